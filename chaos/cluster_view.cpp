#include "chaos/cluster_view.h"

#include <algorithm>
#include <charconv>
#include <sstream>

namespace chaosd {
namespace {

namespace asio = boost::asio;

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(separator, start);
    if (end == std::string_view::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::optional<uint16_t> parse_slot(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > 16383) return std::nullopt;
  return static_cast<uint16_t>(value);
}

// One slot field: "0-5460", "42", "[42->-<id>]" (migrating), "[42-<-<id>]" (importing).
bool parse_slot_field(std::string_view field, ViewNode& node) {
  if (field.size() > 2 && field.front() == '[' && field.back() == ']') {
    std::string_view inner = field.substr(1, field.size() - 2);
    for (const char* arrow : {"->-", "-<-"}) {
      auto at = inner.find(arrow);
      if (at == std::string_view::npos) continue;
      auto slot = parse_slot(inner.substr(0, at));
      if (!slot) return false;
      std::string peer(inner.substr(at + 3));
      (arrow[1] == '>' ? node.migrating : node.importing).emplace_back(*slot, peer);
      return true;
    }
    return false;
  }
  auto dash = field.find('-');
  auto first = parse_slot(field.substr(0, dash));
  auto last = dash == std::string_view::npos ? first : parse_slot(field.substr(dash + 1));
  if (!first || !last || *last < *first) return false;
  for (unsigned s = *first; s <= *last; ++s) node.slots.push_back(static_cast<uint16_t>(s));
  return true;
}

bool cluster_disabled(const Error& error) {
  return error.message.find("cluster support disabled") != std::string::npos;
}

std::string info_field(const std::string& info, const std::string& name) {
  std::istringstream in(info);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind(name + ":", 0) == 0) return line.substr(name.size() + 1);
  }
  return {};
}

ConnectionOptions options_for(const ConnectionOptions& base, const std::string& address) {
  ConnectionOptions options = base;
  auto parts = split_address(address);
  if (parts) {
    options.host = parts->first;
    options.port = parts->second;
  }
  return options;
}

}  // namespace

std::optional<std::pair<std::string, uint16_t>> split_address(std::string_view address) {
  auto colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  unsigned port = 0;
  std::string_view digits = address.substr(colon + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc() || end != digits.data() + digits.size() || port == 0 || port > 65535) {
    return std::nullopt;
  }
  std::string_view host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return std::make_pair(std::string(host), static_cast<uint16_t>(port));
}

Result<ClusterView> parse_cluster_nodes(std::string_view text) {
  ClusterView view;
  int line_number = 0;
  for (std::string_view line : split(text, '\n')) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    auto fields = split(line, ' ');
    if (fields.size() < 8) {
      return Error{ErrorCode::protocol, "CLUSTER NODES line " + std::to_string(line_number) +
                                            " has " + std::to_string(fields.size()) +
                                            " fields (want at least 8): " + std::string(line)};
    }
    ViewNode node;
    node.id = std::string(fields[0]);
    std::string_view address = fields[1];
    address = address.substr(0, address.find_first_of("@,"));
    node.address = std::string(address);
    for (std::string_view flag : split(fields[2], ',')) {
      if (flag == "myself") node.myself = true;
      if (flag == "master") node.primary = true;
      if (flag == "fail" || flag == "fail?") node.failing = true;
    }
    if (fields[3] != "-") node.primary_id = std::string(fields[3]);
    if (fields[7] != "connected" && !node.myself) node.failing = true;
    for (size_t i = 8; i < fields.size(); ++i) {
      if (!parse_slot_field(fields[i], node)) {
        return Error{ErrorCode::protocol, "CLUSTER NODES line " + std::to_string(line_number) +
                                              ": bad slot field \"" + std::string(fields[i]) +
                                              "\""};
      }
    }
    std::sort(node.slots.begin(), node.slots.end());
    view.nodes.push_back(std::move(node));
  }
  if (view.nodes.empty()) return Error{ErrorCode::protocol, "CLUSTER NODES is empty"};
  return view;
}

const ViewNode* ClusterView::by_id(std::string_view id) const {
  for (const auto& node : nodes) {
    if (node.id == id) return &node;
  }
  return nullptr;
}

const ViewNode* ClusterView::by_address(std::string_view address) const {
  for (const auto& node : nodes) {
    if (node.address == address) return &node;
  }
  return nullptr;
}

std::string ClusterView::shard_of(const ViewNode& node) const {
  return node.primary || node.primary_id.empty() ? node.id : node.primary_id;
}

std::vector<const ViewNode*> ClusterView::serving_primaries() const {
  std::vector<const ViewNode*> out;
  for (const auto& node : nodes) {
    if (node.primary && !node.slots.empty()) out.push_back(&node);
  }
  return out;
}

std::vector<const ViewNode*> ClusterView::replicas_of(std::string_view primary_id) const {
  std::vector<const ViewNode*> out;
  for (const auto& node : nodes) {
    if (!node.primary && node.primary_id == primary_id) out.push_back(&node);
  }
  return out;
}

const ViewNode* ClusterView::owner_of(uint16_t slot) const {
  for (const auto& node : nodes) {
    if (node.primary && std::binary_search(node.slots.begin(), node.slots.end(), slot)) {
      return &node;
    }
  }
  return nullptr;
}

std::vector<std::string> ClusterView::slots_in_flight() const {
  std::vector<std::string> out;
  for (const auto& node : nodes) {
    for (const auto& [slot, peer] : node.migrating) {
      out.push_back("slot " + std::to_string(slot) + " MIGRATING on " + node.address + " to " +
                    peer);
    }
    for (const auto& [slot, peer] : node.importing) {
      out.push_back("slot " + std::to_string(slot) + " IMPORTING on " + node.address + " from " +
                    peer);
    }
  }
  return out;
}

asio::awaitable<Result<Topology>> read_topology(asio::any_io_executor executor,
                                                ConnectionOptions base,
                                                std::vector<std::string> nodes) {
  std::string errors;
  for (const auto& address : nodes) {
    RedisConnection conn(executor, options_for(base, address));
    auto reply = co_await conn.call("CLUSTER", "NODES");
    if (!reply && cluster_disabled(reply.error())) {
      Topology topology;
      topology.standalone_primary = address;
      auto info = co_await conn.call("INFO", "replication");
      if (info && info.value().is_string()) {
        const std::string& text = info.value().str();
        if (info_field(text, "role") == "slave") {
          topology.standalone_primary =
              info_field(text, "master_host") + ":" + info_field(text, "master_port");
        }
      }
      co_return topology;
    }
    if (!reply || !reply.value().is_string()) {
      errors += (errors.empty() ? "" : "; ") + address + ": " +
                (reply ? reply.value().debug_string() : reply.error().message);
      continue;
    }
    auto view = parse_cluster_nodes(reply.value().str());
    if (!view) co_return Error{view.error().code, address + ": " + view.error().message};
    // Every other primary tells its own in-flight slots.
    for (auto& node : view.value().nodes) {
      if (!node.primary || node.failing || node.myself) continue;
      RedisConnection other(executor, options_for(base, node.address));
      auto own = co_await other.call("CLUSTER", "NODES");
      if (!own || !own.value().is_string()) continue;
      auto theirs = parse_cluster_nodes(own.value().str());
      if (!theirs) continue;
      for (const auto& seen : theirs.value().nodes) {
        if (!seen.myself || seen.id != node.id) continue;
        node.migrating = seen.migrating;
        node.importing = seen.importing;
      }
    }
    co_return Topology{.cluster = std::move(view.value()), .standalone_primary = {}};
  }
  co_return Error{ErrorCode::disconnected,
                  "cannot read the topology: no node answered (" + errors + ")"};
}

}  // namespace chaosd
