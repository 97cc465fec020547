#include "chaos/faults/network.h"

#include <spdlog/spdlog.h>

#include <map>

#include "chaos/proxy/fault_proxy.h"
#include "config/params.h"
#include "config/toml_reader.h"

namespace chaosd {
namespace {

namespace asio = boost::asio;
using std::chrono::hours;
using std::chrono::milliseconds;

std::vector<ToxicDirection> directions(const std::string& stream) {
  if (stream == "upstream") return {ToxicDirection::upstream};
  if (stream == "downstream") return {ToxicDirection::downstream};
  return {ToxicDirection::upstream, ToxicDirection::downstream};
}

std::optional<NetworkFaultKind> kind_of(std::string_view type) {
  for (auto kind :
       {NetworkFaultKind::latency, NetworkFaultKind::jitter, NetworkFaultKind::bandwidth,
        NetworkFaultKind::partition, NetworkFaultKind::reset}) {
    if (type == to_string(kind)) return kind;
  }
  return std::nullopt;
}

int64_t to_ns(Duration d) { return d.count(); }

}  // namespace

const char* to_string(NetworkFaultKind kind) {
  switch (kind) {
    case NetworkFaultKind::latency:
      return "network_latency";
    case NetworkFaultKind::jitter:
      return "network_jitter";
    case NetworkFaultKind::bandwidth:
      return "network_bandwidth";
    case NetworkFaultKind::partition:
      return "network_partition";
    case NetworkFaultKind::reset:
      return "network_reset";
  }
  return "network_unknown";
}

NetworkFault::NetworkFault(NetworkFaultParams params, std::vector<std::string> toxic_names)
    : params_(std::move(params)),
      type_(to_string(params_.kind)),
      toxic_names_(std::move(toxic_names)) {}

std::vector<ToxicSpec> NetworkFault::toxics(Duration duration) const {
  std::vector<ToxicSpec> out;
  auto dirs = directions(params_.stream);
  for (size_t i = 0; i < dirs.size() && i < toxic_names_.size(); ++i) {
    ToxicSpec spec;
    spec.name = toxic_names_[i];
    spec.direction = dirs[i];
    spec.expires_in = duration + kExpiryGrace;
    switch (params_.kind) {
      case NetworkFaultKind::latency:
      case NetworkFaultKind::jitter:
        spec.type = ToxicType::latency;
        spec.params.latency = params_.latency;
        spec.params.jitter = params_.jitter;
        break;
      case NetworkFaultKind::bandwidth:
        spec.type = ToxicType::bandwidth;
        spec.params.rate_bytes_per_second = static_cast<uint64_t>(params_.rate_bytes_per_second);
        break;
      case NetworkFaultKind::partition:
        spec.type = ToxicType::partition;
        break;
      case NetworkFaultKind::reset:
        spec.type = ToxicType::reset_peer;
        spec.params.timeout = params_.after;
        break;
    }
    out.push_back(std::move(spec));
  }
  return out;
}

asio::awaitable<Status> NetworkFault::prepare(FaultContext& ctx) {
  toxic_names_.clear();
  for (auto dir : directions(params_.stream)) {
    toxic_names_.push_back("chaos-" + ctx.fault_id +
                           (dir == ToxicDirection::upstream ? "-up" : "-down"));
  }
  co_return Ok{};
}

asio::awaitable<Status> NetworkFault::inject(FaultContext& ctx) {
  if (ctx.proxy == nullptr) {
    co_return Error{ErrorCode::invalid_argument,
                    type_ + ": no fault proxy in this daemon (network faults need one)"};
  }
  if (ctx.proxy->find(params_.link) == nullptr) {
    co_return Error{ErrorCode::invalid_argument,
                    type_ + ": no fault proxy link named \"" + params_.link + "\""};
  }
  for (auto& spec : toxics(ctx.duration)) {
    auto validated = validate_toxic_spec(std::move(spec));
    if (!validated)
      co_return Error{ErrorCode::invalid_argument, type_ + ": " + validated.error().message};
    auto added = ctx.proxy->add_toxic(params_.link, validated.value());
    if (!added) co_return Error{added.error().code, type_ + ": " + added.error().message};
  }
  co_return Ok{};
}

asio::awaitable<Status> NetworkFault::revert(FaultContext& ctx) {
  if (ctx.proxy == nullptr) {
    // The proxy lives in the daemon's process: a restarted daemon has no toxic left to remove.
    spdlog::info("{} {}: no fault proxy here, so no toxic of it is left", type_, ctx.fault_id);
    co_return Ok{};
  }
  ProxyLink* link = ctx.proxy->find(params_.link);
  if (link == nullptr) co_return Ok{};  // the link is gone and its toxics with it
  for (const auto& name : toxic_names_) {
    bool present = false;
    for (const auto& toxic : link->toxics()) present = present || toxic.spec.name == name;
    if (!present) continue;  // expired, or never added: already reverted
    auto removed = ctx.proxy->remove_toxic(params_.link, name);
    if (!removed) co_return Error{removed.error().code, type_ + ": " + removed.error().message};
  }
  co_return Ok{};
}

nlohmann::json NetworkFault::record() const {
  nlohmann::json params = {{"link", params_.link},
                           {"stream", params_.stream},
                           {"latency_ns", to_ns(params_.latency)},
                           {"jitter_ns", to_ns(params_.jitter)},
                           {"rate_bytes_per_second", params_.rate_bytes_per_second},
                           {"after_ns", to_ns(params_.after)}};
  return {{"type", type_}, {"params", params}, {"state", {{"toxics", toxic_names_}}}};
}

FaultType network_fault_type(NetworkFaultKind kind) {
  static const std::map<NetworkFaultKind, std::string> kSummaries = {
      {NetworkFaultKind::latency, "delay traffic through a proxy link (latency toxic)"},
      {NetworkFaultKind::jitter, "delay traffic by latency +- jitter through a proxy link"},
      {NetworkFaultKind::bandwidth, "limit a proxy link's rate (bandwidth toxic)"},
      {NetworkFaultKind::partition, "drop every byte on a proxy link; connections stay open"},
      {NetworkFaultKind::reset, "reset (RST) connections through a proxy link"},
  };
  return FaultType{
      .type = to_string(kind),
      .summary = kSummaries.at(kind),
      .create = [kind](const toml::table& table, const std::string& key_path,
                       const std::string& file) -> std::unique_ptr<Fault> {
        ParamReader params(table, key_path, file);
        NetworkFaultParams p;
        p.kind = kind;
        p.link = params.get_string("link", "");
        bool both_default = kind == NetworkFaultKind::partition || kind == NetworkFaultKind::reset;
        p.stream = params.get_string("stream", both_default ? "both" : "downstream",
                                     {"upstream", "downstream", "both"});
        auto fail = [&](const std::string& key, const std::string& message) {
          throw ConfigError(location_of(table.source(), file), child_path(key_path, key), message);
        };
        switch (kind) {
          case NetworkFaultKind::latency:
            p.latency = params.get_duration("latency", Duration{}, Duration{1}, hours(24));
            p.jitter = params.get_duration("jitter", Duration{}, Duration{0}, hours(24));
            if (p.latency == Duration{}) fail("latency", "missing (e.g. latency = \"50ms\")");
            break;
          case NetworkFaultKind::jitter:
            p.jitter = params.get_duration("jitter", Duration{}, Duration{1}, hours(24));
            p.latency = params.get_duration("latency", p.jitter, Duration{0}, hours(24));
            if (p.jitter == Duration{}) fail("jitter", "missing (e.g. jitter = \"20ms\")");
            break;
          case NetworkFaultKind::bandwidth:
            p.rate_bytes_per_second =
                params.get_int("rate_bytes_per_second", 0, 1, int64_t{1} << 40);
            if (p.rate_bytes_per_second == 0) {
              fail("rate_bytes_per_second", "missing (e.g. rate_bytes_per_second = 65536)");
            }
            break;
          case NetworkFaultKind::partition:
            break;
          case NetworkFaultKind::reset:
            p.after = params.get_duration("after", Duration{}, Duration{0}, hours(24));
            break;
        }
        params.finish();
        if (p.link.empty())
          fail("link", "missing: the fault proxy link to degrade (e.g. link = \"redis\")");
        return std::make_unique<NetworkFault>(p);
      },
      .restore = [](const nlohmann::json& record) -> Result<std::unique_ptr<Fault>> {
        auto kind = kind_of(record.at("type").get<std::string>());
        if (!kind) return Error{ErrorCode::invalid_argument, "not a network fault record"};
        const auto& params = record.at("params");
        NetworkFaultParams p;
        p.kind = *kind;
        p.link = params.at("link").get<std::string>();
        p.stream = params.at("stream").get<std::string>();
        p.latency = Duration{params.at("latency_ns").get<int64_t>()};
        p.jitter = Duration{params.at("jitter_ns").get<int64_t>()};
        p.rate_bytes_per_second = params.at("rate_bytes_per_second").get<int64_t>();
        p.after = Duration{params.at("after_ns").get<int64_t>()};
        auto names = record.at("state").at("toxics").get<std::vector<std::string>>();
        return std::unique_ptr<Fault>(std::make_unique<NetworkFault>(p, std::move(names)));
      },
  };
}

}  // namespace chaosd
