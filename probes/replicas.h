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
};

/// The replicas of ctx's target; empty for a standalone or cluster target (cluster replicas
/// answer reads only with READONLY and are not probed this way).
boost::asio::awaitable<Result<std::vector<ReplicaEndpoint>>> list_replicas(ProbeContext& ctx);

/// The writable regions of a "regions" target (empty for other kinds).
std::vector<ReplicaEndpoint> writable_regions(const TargetConfig& topology);

/// One connection per endpoint, opened on first use and kept across runs.
class EndpointConnections {
 public:
  /// `role` ends the connection's client name: "redis-chaosd:<probe>:<role>".
  explicit EndpointConnections(std::string role) : role_(std::move(role)) {}
  RedisConnection& to(ProbeContext& ctx, const ReplicaEndpoint& endpoint);

 private:
  std::string role_;
  std::map<std::string, std::unique_ptr<RedisConnection>> connections_;  // by endpoint name
};

}  // namespace chaosd
