#pragma once
// The topology interlocks of the chaos engine (DESIGN §6), checked by FaultSupervisor::inject
// after prepare() (which changes nothing) and before the journal and inject():
//   - one fault per shard: a shard is a primary and its replicas (cluster: from CLUSTER NODES;
//     standalone: the node, or the primary it replicates from);
//   - node_kill on a cluster: refused when the node's shard lacks a healthy primary or a healthy
//     replica already, or when it would leave more than half of the slot-serving primaries down;
//   - reshard: refused while any slot is MIGRATING or IMPORTING anywhere in the cluster.
// Every refusal is ErrorCode::conflict (HTTP 409) with the reason.
//
// Thread-safety: none; runs on the supervisor's executor.

#include <boost/asio/awaitable.hpp>
#include <string>
#include <vector>

#include "chaos/fault.h"
#include "daemon/util/result.h"

namespace chaosd {

/// What the interlocks need of a fault that is active already.
struct ActiveFaultFootprint {
  std::string id;
  std::string type;
  std::string target;
  std::vector<std::string> nodes;   // affected_nodes(), "host:port"
  std::vector<std::string> shards;  // as returned by check_topology_interlocks for it
};

/// Checks `fault` (prepared, with `ctx`) against the live topology and the faults in `active`.
/// Returns the shard keys the fault touches, to keep in its footprint.
boost::asio::awaitable<Result<std::vector<std::string>>> check_topology_interlocks(
    const Fault& fault, const FaultContext& ctx, const std::vector<ActiveFaultFootprint>& active);

}  // namespace chaosd
