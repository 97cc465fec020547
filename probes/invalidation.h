#pragma once
// invalidation: when a cached key changes, does the news reach every cache that holds it, and
// every cache holding something derived from it, fast and without loss?
//
// `services` caching services each keep an in-process cache over a data connection with
// CLIENT TRACKING ON REDIRECT to their own subscriber connection on `__redis__:invalidate`
// (RESP2). Each round builds dependency trees of fresh keys (a root, `fanout` children per node,
// `depth` levels), has every service read every key (so the server tracks them), then writes the
// roots. A service that learns a node it owns changed rewrites the node's children with the new
// value, which invalidates them everywhere in turn: the cascade. Scenarios (the measurements'
// subjects): single_level (depth 1), multi_level (`depth` levels, one service cascades),
// cross_service (each level cascaded by the next service), concurrent (`concurrent_roots` trees
// invalidated at once, repeated for `load_duration`, while `load_clients` connections SET/GET).
//
// Measurements, per scenario: propagation_seconds (p99 of root write -> invalidation received
// over every service and key), propagation_ratio (invalidations received within `max_wait` /
// services x keys) and stale_reads_total (reads through a service's cache, once the round has
// settled, that did not return the new value); load_ops_per_second for concurrent.
//
//   [[probes]]
//   type = "invalidation"
//   target = "main"
//   interval = "10s"
//   timeout = "10s"
//   params = { services = 3, fanout = 3, depth = 3, concurrent_roots = 4, load_clients = 4,
//              load_duration = "200ms", max_wait = "1s", value_ttl = "60s" }

#include <memory>
#include <optional>
#include <vector>

#include "probes/invalidation_service.h"
#include "probes/registry.h"

namespace chaosd {

struct InvalidationParams {
  int services = 3;
  int fanout = 3;
  int depth = 3;
  int concurrent_roots = 4;
  int load_clients = 4;
  Duration load_duration = std::chrono::milliseconds(200);
  Duration max_wait = std::chrono::seconds(1);
  Duration value_ttl = std::chrono::seconds(60);
};

class InvalidationProbe final : public Probe {
 public:
  explicit InvalidationProbe(InvalidationParams params) : params_(params) {}
  boost::asio::awaitable<ProbeResult> run(ProbeContext& ctx) override;
  boost::asio::awaitable<Status> cleanup(ProbeContext& ctx) override;

  struct Scenario;  // one subject's rounds and totals (invalidation.cpp)
  struct Load;      // the background SET/GET load of the concurrent scenario

 private:
  boost::asio::awaitable<Status> prepare(ProbeContext& ctx);
  boost::asio::awaitable<void> play(ProbeContext& ctx, Scenario& scenario);
  boost::asio::awaitable<void> play_round(ProbeContext& ctx, Scenario& scenario, int round_number);
  boost::asio::awaitable<void> play_rounds(ProbeContext& ctx, Scenario& scenario, Load& load);

  InvalidationParams params_;
  uint64_t run_number_ = 0;
  std::vector<std::shared_ptr<TrackingService>> services_;  // kept across runs while healthy
  std::vector<std::unique_ptr<RedisConnection>> loaders_;
  std::optional<NodeAddress> node_;  // where services_ and loaders_ point (cluster node)
};

/// Keys in one dependency tree of `fanout` children per node and `depth` levels below the root.
int64_t invalidation_tree_size(int64_t fanout, int64_t depth);

ProbeType invalidation_probe_type();

}  // namespace chaosd
