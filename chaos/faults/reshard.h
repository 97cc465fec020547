#pragma once
// reshard: N hash slots of a cluster move from one primary to another, live, the way
// `redis-cli --cluster reshard` moves them (daemon/redis/slot_migration.h: SETSLOT IMPORTING /
// MIGRATING, MIGRATE the keys, SETSLOT NODE everywhere), so clients see ASK and MOVED and must
// cope. By default the source is the primary with the most slots and the target the primary with
// the fewest; the slots are the source's highest ones.
//
// prepare() records each slot with its owner and destination (address and node id); revert()
// needs nothing else. Revert moves every recorded slot that is not on its recorded owner back
// there (idempotent: a slot already home is left alone), and first finishes any recorded slot
// left MIGRATING/IMPORTING by an interrupted move (a crash mid-MIGRATE), so no slot stays in
// flight. With move_back = false the new layout stays; revert only finishes interrupted moves.
//
//   [[experiments]]
//   fault = "reshard"
//   target = "cluster"
//   params = { slots = 4, move_back = true }   # from/to = "host:port" to choose the primaries

#include <cstdint>
#include <string>
#include <vector>

#include "chaos/registry.h"

namespace chaosd {

struct ReshardParams {
  int64_t slots = 1;
  std::string from;  // "host:port" of a primary; empty: the one with the most slots
  std::string to;    // "host:port" of another primary; empty: the one with the fewest slots
  bool move_back = true;
};

struct PlannedSlotMove {
  uint16_t slot = 0;
  std::string from, from_id;  // the owner before the fault
  std::string to, to_id;
};

class ReshardFault final : public Fault {
 public:
  static constexpr int64_t kMaxSlots = 1024;

  explicit ReshardFault(ReshardParams params, std::vector<PlannedSlotMove> moves = {})
      : params_(std::move(params)), moves_(std::move(moves)) {}
  const std::string& type() const override;
  boost::asio::awaitable<Status> prepare(FaultContext& ctx) override;
  boost::asio::awaitable<Status> inject(FaultContext& ctx) override;
  boost::asio::awaitable<Status> revert(FaultContext& ctx) override;
  nlohmann::json record() const override;
  /// The source and target primaries.
  std::vector<std::string> affected_nodes(const FaultContext& ctx) const override;
  const std::vector<PlannedSlotMove>& moves() const { return moves_; }

 private:
  ReshardParams params_;
  std::vector<PlannedSlotMove> moves_;
};

FaultType reshard_fault_type();

}  // namespace chaosd
