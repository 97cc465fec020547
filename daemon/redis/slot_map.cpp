#include "daemon/redis/slot_map.h"

#include <charconv>
#include <map>
#include <optional>
#include <set>

#include "daemon/redis/crc16.h"

namespace chaosd {
namespace {

Error malformed(std::string_view command, const std::string& why) {
  return Error{ErrorCode::protocol, "unexpected " + std::string(command) + " reply: " + why};
}

template <class Int>
std::optional<Int> parse_number(std::string_view text) {
  Int value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// Slot numbers are integers in every version we know; a numeric string is accepted as well so
// that a proxy re-encoding replies does not break routing.
std::optional<uint16_t> slot_of(const Reply& r) {
  std::optional<int64_t> v;
  if (r.is_integer()) v = r.integer();
  if (r.is_string()) v = parse_number<int64_t>(r.str());
  if (!v || *v < 0 || *v >= kClusterSlots) return std::nullopt;
  return static_cast<uint16_t>(*v);
}

std::optional<uint16_t> port_of(const Reply& r) {
  std::optional<int64_t> v;
  if (r.is_integer()) v = r.integer();
  if (r.is_string()) v = parse_number<int64_t>(r.str());
  if (!v || *v <= 0 || *v > 65535) return std::nullopt;
  return static_cast<uint16_t>(*v);
}

// "?" is how Redis 7 spells an endpoint it does not know; empty means "the node you asked".
bool usable_host(const std::string& host) { return !host.empty() && host != "?"; }

// One CLUSTER SHARDS node, a flat [key, value, ...] array. nullopt: no plain-TCP address.
std::optional<ClusterNode> parse_shards_node(const Reply& r, std::string_view queried_host) {
  if (!r.is_array() || r.elements().size() % 2 != 0) return std::nullopt;
  ClusterNode node;
  std::string endpoint, ip;
  const auto& e = r.elements();
  for (size_t i = 0; i + 1 < e.size(); i += 2) {
    const std::string& key = e[i].str();
    const Reply& value = e[i + 1];
    if (key == "id") node.id = value.str();
    if (key == "endpoint") endpoint = value.str();
    if (key == "ip") ip = value.str();
    if (key == "role") node.primary = value.str() == "master";
    if (key == "health") node.healthy = value.str() == "online";
    if (key == "port") {
      if (auto port = port_of(value)) node.port = *port;
    }
  }
  if (node.port == 0) return std::nullopt;  // TLS-only node: we cannot talk to it
  node.host = usable_host(endpoint) ? endpoint : usable_host(ip) ? ip : std::string(queried_host);
  if (node.host.empty()) return std::nullopt;
  return node;
}

}  // namespace

SlotMap::SlotMap() : owner_(kClusterSlots, -1) {}

size_t SlotMap::add_shard(Shard shard, const std::vector<SlotRange>& ranges) {
  shard.primary.primary = true;
  shards_.push_back(std::move(shard));
  auto index = static_cast<int32_t>(shards_.size() - 1);
  for (const auto& range : ranges) {
    for (uint32_t slot = range.first; slot <= range.last && slot < kClusterSlots; ++slot) {
      owner_[slot] = index;
    }
  }
  return static_cast<size_t>(index);
}

void SlotMap::move_slot(uint16_t slot, const std::string& host, uint16_t port) {
  if (slot >= kClusterSlots) return;
  for (size_t i = 0; i < shards_.size(); ++i) {
    if (shards_[i].primary.host == host && shards_[i].primary.port == port) {
      owner_[slot] = static_cast<int32_t>(i);
      return;
    }
  }
  Shard shard;
  shard.primary.host = host;
  shard.primary.port = port;
  add_shard(std::move(shard), {SlotRange{slot, slot}});
}

const Shard* SlotMap::shard_for_slot(uint16_t slot) const {
  if (slot >= kClusterSlots || owner_[slot] < 0) return nullptr;
  return &shards_[static_cast<size_t>(owner_[slot])];
}

const ClusterNode* SlotMap::primary_for_slot(uint16_t slot) const {
  const Shard* shard = shard_for_slot(slot);
  return shard ? &shard->primary : nullptr;
}

std::vector<SlotRange> SlotMap::slot_ranges(size_t shard_index) const {
  std::vector<SlotRange> ranges;
  auto index = static_cast<int32_t>(shard_index);
  for (uint32_t slot = 0; slot < kClusterSlots; ++slot) {
    if (owner_[slot] != index) continue;
    auto s = static_cast<uint16_t>(slot);
    if (!ranges.empty() && uint32_t{ranges.back().last} + 1 == slot) {
      ranges.back().last = s;
    } else {
      ranges.push_back(SlotRange{s, s});
    }
  }
  return ranges;
}

size_t SlotMap::covered_slots() const {
  size_t n = 0;
  for (int32_t owner : owner_) n += owner >= 0 ? 1 : 0;
  return n;
}

std::vector<ClusterNode> SlotMap::nodes() const {
  std::vector<ClusterNode> out;
  std::set<std::string> seen;
  // A replica promoted by a MOVED we applied appears twice; the primary entry wins.
  for (const auto& shard : shards_) {
    if (seen.insert(shard.primary.address()).second) out.push_back(shard.primary);
  }
  for (const auto& shard : shards_) {
    for (const auto& replica : shard.replicas) {
      if (seen.insert(replica.address()).second) out.push_back(replica);
    }
  }
  return out;
}

Result<SlotMap> parse_cluster_shards(const Reply& reply, std::string_view queried_host) {
  constexpr std::string_view kCommand = "CLUSTER SHARDS";
  if (!reply.is_array()) return malformed(kCommand, "not an array: " + reply.debug_string());
  SlotMap map;
  for (const Reply& shard_reply : reply.elements()) {
    if (!shard_reply.is_array() || shard_reply.elements().size() % 2 != 0) {
      return malformed(kCommand, "a shard is not a key/value array");
    }
    const Reply* slots = nullptr;
    const Reply* nodes = nullptr;
    const auto& fields = shard_reply.elements();
    for (size_t i = 0; i + 1 < fields.size(); i += 2) {
      if (fields[i].str() == "slots") slots = &fields[i + 1];
      if (fields[i].str() == "nodes") nodes = &fields[i + 1];
    }
    if (slots == nullptr || nodes == nullptr || !slots->is_array() || !nodes->is_array() ||
        slots->elements().size() % 2 != 0) {
      return malformed(kCommand, "a shard lacks \"slots\" pairs or \"nodes\"");
    }
    std::vector<SlotRange> ranges;
    for (size_t i = 0; i + 1 < slots->elements().size(); i += 2) {
      auto first = slot_of(slots->elements()[i]);
      auto last = slot_of(slots->elements()[i + 1]);
      if (!first || !last || *first > *last) return malformed(kCommand, "bad slot range");
      ranges.push_back(SlotRange{*first, *last});
    }
    Shard shard;
    bool have_primary = false;
    for (const Reply& node_reply : nodes->elements()) {
      auto node = parse_shards_node(node_reply, queried_host);
      if (!node) continue;
      // Two primaries in one shard is a transient state around a failover: trust a healthy one.
      bool better_primary =
          node->primary && (!have_primary || (!shard.primary.healthy && node->healthy));
      if (better_primary) {
        if (have_primary) {
          shard.primary.primary = false;  // we will not route to it
          shard.replicas.push_back(shard.primary);
        }
        shard.primary = std::move(*node);
        have_primary = true;
      } else {
        shard.replicas.push_back(std::move(*node));
      }
    }
    if (!have_primary) continue;  // its slots stay unassigned: commands get CLUSTERDOWN, we retry
    map.add_shard(std::move(shard), ranges);
  }
  return map;
}

Result<SlotMap> parse_cluster_slots(const Reply& reply, std::string_view queried_host) {
  constexpr std::string_view kCommand = "CLUSTER SLOTS";
  if (!reply.is_array()) return malformed(kCommand, "not an array: " + reply.debug_string());
  auto parse_node = [&](const Reply& r, bool primary) -> std::optional<ClusterNode> {
    if (!r.is_array() || r.elements().size() < 2) return std::nullopt;
    ClusterNode node;
    node.host = r.elements()[0].str();
    if (node.host.empty()) node.host = std::string(queried_host);
    if (!usable_host(node.host)) return std::nullopt;
    auto port = port_of(r.elements()[1]);
    if (!port) return std::nullopt;
    node.port = *port;
    if (r.elements().size() >= 3) node.id = r.elements()[2].str();
    node.primary = primary;
    return node;
  };
  // CLUSTER SLOTS lists one entry per contiguous range: group the ranges of one primary again.
  std::vector<std::pair<Shard, std::vector<SlotRange>>> shards;
  std::map<std::string, size_t> shard_index;  // primary id (or address) -> index in shards
  for (const Reply& entry : reply.elements()) {
    if (!entry.is_array() || entry.elements().size() < 3) {
      return malformed(kCommand, "an entry is not [first, last, primary, replicas...]");
    }
    const auto& e = entry.elements();
    auto first = slot_of(e[0]);
    auto last = slot_of(e[1]);
    if (!first || !last || *first > *last) return malformed(kCommand, "bad slot range");
    auto primary = parse_node(e[2], true);
    if (!primary) continue;
    std::string key = primary->id.empty() ? primary->address() : primary->id;
    auto [it, inserted] = shard_index.emplace(key, shards.size());
    if (inserted) {
      Shard shard;
      shard.primary = std::move(*primary);
      for (size_t i = 3; i < e.size(); ++i) {
        if (auto replica = parse_node(e[i], false)) shard.replicas.push_back(std::move(*replica));
      }
      shards.emplace_back(std::move(shard), std::vector<SlotRange>{});
    }
    shards[it->second].second.push_back(SlotRange{*first, *last});
  }
  SlotMap map;
  for (auto& [shard, ranges] : shards) map.add_shard(std::move(shard), ranges);
  return map;
}

ClusterError classify_cluster_error(std::string_view message) {
  ClusterError out;
  size_t space = message.find(' ');
  std::string_view word = message.substr(0, space);
  if (word == "TRYAGAIN") out.kind = ClusterError::Kind::try_again;
  if (word == "CLUSTERDOWN") out.kind = ClusterError::Kind::cluster_down;
  if (word != "MOVED" && word != "ASK") return out;
  // "<slot> <host>:<port>"; the host may itself contain ':' (IPv6), so split at the last one.
  std::string_view rest = space == std::string_view::npos ? "" : message.substr(space + 1);
  size_t gap = rest.find(' ');
  if (gap == std::string_view::npos) return out;
  auto slot = parse_number<uint32_t>(rest.substr(0, gap));
  std::string_view address = rest.substr(gap + 1);
  size_t colon = address.rfind(':');
  if (!slot || *slot >= kClusterSlots || colon == std::string_view::npos) return out;
  auto port = parse_number<uint32_t>(address.substr(colon + 1));
  if (!port || *port == 0 || *port > 65535) return out;
  out.kind = word == "MOVED" ? ClusterError::Kind::moved : ClusterError::Kind::ask;
  out.slot = static_cast<uint16_t>(*slot);
  out.host = std::string(address.substr(0, colon));
  out.port = static_cast<uint16_t>(*port);
  return out;
}

}  // namespace chaosd
