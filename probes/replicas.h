#pragma once
// The read-only copies of a target that a probe can read from: the replicas of a replicated
// target (listed in the config, or found with INFO replication) or the regions that are not
// writable. Probes that check what a replica read returns (replication lag, expiry on replicas)
// share this, and keep one connection per replica across runs.

#include <boost/asio/awaitable.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "probes/probe.h"

namespace chaosd {

struct ReplicaEndpoint {
  std::string name;  // the region, or host:port
  NodeAddress address;
  bool cluster_replica = false;  // answers reads only after READONLY (else MOVED to its primary)
};

/// The replicas of ctx's target: listed or found with INFO replication (replicated), the
/// read-only regions (regions), the replicas of the shard serving the probe's slot (cluster);
/// none for a standalone target.
boost::asio::awaitable<Result<std::vector<ReplicaEndpoint>>> list_replicas(ProbeContext& ctx);

/// Runs `commands` in one pipeline on `replica`, prefixed with READONLY on a cluster replica
/// (sent every time: the connection may have been replaced since). One reply per command.
boost::asio::awaitable<std::vector<Result<Reply>>> pipeline_on_replica(
    RedisConnection& connection, const ReplicaEndpoint& replica, std::vector<Command> commands);

/// The writable regions of a "regions" target (empty for other kinds).
std::vector<ReplicaEndpoint> writable_regions(const TargetConfig& topology);

/// One connection per endpoint, opened on first use and kept across runs.
class EndpointConnections {
 public:
  /// `role` ends the connection's client name: "redis-chaosd:<probe>:<role>".
  explicit EndpointConnections(std::string role) : role_(std::move(role)) {}
  /// The connection to `endpoint`, opened anew when its name now has another address (a
  /// cluster replica replaced after a failover).
  RedisConnection& to(ProbeContext& ctx, const ReplicaEndpoint& endpoint);

 private:
  std::string role_;
  std::map<std::string, std::unique_ptr<RedisConnection>> connections_;  // by endpoint name
};

}  // namespace chaosd
