#pragma once
// network_latency, network_jitter, network_bandwidth, network_partition, network_reset: toxics on
// a fault proxy link (chaos/proxy, docs/fault-proxy.md) in front of the target. One class, one
// registry line per kind. Each toxic is named "chaos-<fault id>-<up|down>" and expires by itself
// at the fault's duration plus 2 s, a backstop behind the supervisor's own deadline.
// Revert removes the toxics (a toxic or link that is gone is already reverted). The proxy lives
// in the daemon's process, so after a daemon restart no toxic survives: with no proxy in the
// context, revert has nothing to do.
//
//   [[experiments]]
//   fault = "network_latency"
//   params = { link = "redis", latency = "50ms", jitter = "10ms", stream = "downstream" }
//
// Params per kind (every kind: link (required), stream = "upstream" | "downstream" | "both"):
//   network_latency    latency (required, > 0), jitter (default 0)      stream default downstream
//   network_jitter     jitter (required, > 0), latency (default jitter)  stream default downstream
//   network_bandwidth  rate_bytes_per_second (required, >= 1)           stream default downstream
//   network_partition  (none): every byte dropped, connections stay open  stream default both
//   network_reset      after (default 0s): connections reset (RST) after that long;
//                      new connections are reset too                     stream default both

#include <string>
#include <vector>

#include "chaos/proxy/toxic_spec.h"
#include "chaos/registry.h"

namespace chaosd {

enum class NetworkFaultKind { latency, jitter, bandwidth, partition, reset };

struct NetworkFaultParams {
  NetworkFaultKind kind = NetworkFaultKind::latency;
  std::string link;
  std::string stream = "downstream";  // "upstream", "downstream" or "both"
  Duration latency{};
  Duration jitter{};
  int64_t rate_bytes_per_second = 0;
  Duration after{};  // reset
};

class NetworkFault final : public Fault {
 public:
  static constexpr Duration kExpiryGrace = std::chrono::seconds(2);

  /// `toxic_names`: from a record (restore); otherwise prepare() names them.
  explicit NetworkFault(NetworkFaultParams params, std::vector<std::string> toxic_names = {});
  const std::string& type() const override { return type_; }
  boost::asio::awaitable<Status> prepare(FaultContext& ctx) override;
  boost::asio::awaitable<Status> inject(FaultContext& ctx) override;
  boost::asio::awaitable<Status> revert(FaultContext& ctx) override;
  nlohmann::json record() const override;

  /// The toxics inject() adds (names filled in by prepare()).
  std::vector<ToxicSpec> toxics(Duration duration) const;

 private:
  NetworkFaultParams params_;
  std::string type_;
  std::vector<std::string> toxic_names_;
};

FaultType network_fault_type(NetworkFaultKind kind);
const char* to_string(NetworkFaultKind kind);  // "network_latency"

}  // namespace chaosd
