#pragma once
// failover: a cluster shard's replica takes over from its primary (CLUSTER FAILOVER on the
// replica: the coordinated, lossless kind; the old primary becomes its replica). The fault's
// node (the HTTP "node", default the target's primary) names the shard: any node of it. The
// replica to promote is the `replica` param ("host:port") or the shard's first healthy replica.
//
// prepare() records the shard's primary and the chosen replica (addresses and node ids). Revert
// fails back: CLUSTER FAILOVER on the recorded primary (now a replica) until it is primary again.
// A recorded primary that is primary already is left alone (idempotent).
//
// Cluster targets only: on a replicated standalone target a swap (REPLICAOF NO ONE + REPLICAOF)
// cannot be taken back without a window in which writes acknowledged by the promoted replica are
// lost, and other replicas (regions) would have to be repointed too; it is refused with 400.
//
//   [[experiments]]
//   fault = "failover"
//   target = "cluster"
//   node = "cluster-1"        # any node of the shard; default the target's primary

#include <string>

#include "chaos/registry.h"
#include "config/duration.h"

namespace chaosd {

struct FailoverParams {
  std::string replica;  // "host:port"; empty: the shard's first healthy replica
};

struct FailoverState {
  std::string primary, primary_id;  // the shard's primary before the fault
  std::string replica, replica_id;  // the replica promoted by inject
};

class FailoverFault final : public Fault {
 public:
  /// How long inject and revert wait for the roles to swap.
  static constexpr Duration kSwapTimeout = std::chrono::seconds(30);

  explicit FailoverFault(FailoverParams params, FailoverState state = {})
      : params_(std::move(params)), state_(std::move(state)) {}
  const std::string& type() const override;
  boost::asio::awaitable<Status> prepare(FaultContext& ctx) override;
  boost::asio::awaitable<Status> inject(FaultContext& ctx) override;
  boost::asio::awaitable<Status> revert(FaultContext& ctx) override;
  nlohmann::json record() const override;
  std::vector<std::string> affected_nodes(const FaultContext& ctx) const override;
  const FailoverState& state() const { return state_; }

 private:
  FailoverParams params_;
  FailoverState state_;
};

FaultType failover_fault_type();

}  // namespace chaosd
