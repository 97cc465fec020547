#include "chaos/interlocks.h"

#include <algorithm>
#include <set>

#include "chaos/cluster_view.h"

namespace chaosd {
namespace {

namespace asio = boost::asio;

// Where the topology can be read: the affected nodes, the context's node, the target's seeds.
std::vector<std::string> topology_sources(const std::vector<std::string>& affected,
                                          const FaultContext& ctx) {
  std::vector<std::string> out = affected;
  out.push_back(ctx.connection.host + ":" + std::to_string(ctx.connection.port));
  out.insert(out.end(), ctx.target_nodes.begin(), ctx.target_nodes.end());
  std::vector<std::string> unique;
  for (const auto& address : out) {
    if (std::find(unique.begin(), unique.end(), address) == unique.end()) {
      unique.push_back(address);
    }
  }
  return unique;
}

Error refuse(const std::string& message) { return Error{ErrorCode::conflict, message}; }

// Nodes killed by active node_kill faults of the same target count as down, whatever the
// cluster's gossip says yet (it marks a dead node failing only after cluster-node-timeout).
std::set<std::string> killed_nodes(const FaultContext& ctx,
                                   const std::vector<ActiveFaultFootprint>& active) {
  std::set<std::string> out;
  for (const auto& other : active) {
    if (other.type != "node_kill" || other.target != ctx.target) continue;
    out.insert(other.nodes.begin(), other.nodes.end());
  }
  return out;
}

Status check_node_kill(const ClusterView& view, const std::string& victim_address,
                       const std::set<std::string>& killed) {
  auto down = [&](const ViewNode& node) { return node.failing || killed.contains(node.address); };
  const ViewNode* victim = view.by_address(victim_address);
  if (victim == nullptr) {
    return refuse("node_kill: " + victim_address +
                  " is not in the cluster's CLUSTER NODES; cannot check the interlocks");
  }
  const ViewNode* primary = view.by_id(view.shard_of(*victim));
  bool primary_up = primary != nullptr && primary->primary && !down(*primary);
  int replicas_up = 0;
  if (primary != nullptr) {
    for (const ViewNode* replica : view.replicas_of(primary->id)) replicas_up += !down(*replica);
  }
  if (!primary_up || replicas_up == 0) {
    return refuse("node_kill of " + victim_address + " refused: its shard (primary " +
                  (primary != nullptr ? primary->address : std::string("unknown")) + ") has " +
                  (primary_up ? "no healthy replica" : "no healthy primary") +
                  " left already; killing it would leave the shard without a primary and a "
                  "replica");
  }
  auto primaries = view.serving_primaries();
  size_t primaries_down = 0;
  for (const ViewNode* node : primaries) {
    if (down(*node) || node->address == victim_address) ++primaries_down;
  }
  if (primaries_down * 2 > primaries.size()) {
    return refuse("node_kill of " + victim_address + " refused: it would leave " +
                  std::to_string(primaries_down) + " of " + std::to_string(primaries.size()) +
                  " primaries down, and the cluster would lose its majority");
  }
  return Ok{};
}

}  // namespace

asio::awaitable<Result<std::vector<std::string>>> check_topology_interlocks(
    const Fault& fault, const FaultContext& ctx, const std::vector<ActiveFaultFootprint>& active) {
  const std::vector<std::string> affected = fault.affected_nodes(ctx);
  const std::vector<std::string> sources = topology_sources(affected, ctx);
  const bool cluster_target = ctx.cluster;
  // The call outside the co_await: its by-value arguments are not temporaries there (GCC 12).
  auto read = read_topology(ctx.executor, ctx.connection, sources);
  auto topology = co_await std::move(read);

  std::vector<std::string> shards;
  if (!topology || !topology.value().cluster) {
    if (cluster_target) {
      co_return refuse(
          fault.type() + " on cluster target \"" + ctx.target +
          "\" refused: cannot read its topology to check the interlocks (" +
          (topology ? std::string("a node answered as standalone") : topology.error().message) +
          ")");
    }
    // Standalone: each affected node is its own shard, or its primary's if it replicates.
    for (const auto& address : affected) {
      std::string primary = address;
      if (topology && address == sources.front()) primary = topology.value().standalone_primary;
      shards.push_back(ctx.target + "|" + primary);
    }
  } else {
    const ClusterView& view = *topology.value().cluster;
    for (const auto& address : affected) {
      const ViewNode* node = view.by_address(address);
      // A node the cluster does not list is a shard of its own (nothing to share with).
      shards.push_back(ctx.target + "|" + (node != nullptr ? view.shard_of(*node) : address));
    }
    if (fault.type() == "node_kill") {
      Status allowed = check_node_kill(view, affected.front(), killed_nodes(ctx, active));
      if (!allowed) co_return allowed.error();
    }
    if (fault.type() == "reshard") {
      auto in_flight = view.slots_in_flight();
      if (!in_flight.empty()) {
        co_return refuse("reshard refused: a slot migration is under way (" + in_flight.front() +
                         (in_flight.size() > 1
                              ? " and " + std::to_string(in_flight.size() - 1) + " more"
                              : std::string()) +
                         "); retry when it is over, or repair it with redis-cli --cluster fix");
      }
    }
  }
  for (const auto& other : active) {
    for (const auto& shard : shards) {
      if (std::find(other.shards.begin(), other.shards.end(), shard) == other.shards.end()) {
        continue;
      }
      co_return refuse(fault.type() + " refused: shard " + shard.substr(ctx.target.size() + 1) +
                       " of target " + ctx.target + " has fault " + other.id + " (" + other.type +
                       ") already (one fault per shard)");
    }
  }
  co_return shards;
}

}  // namespace chaosd
