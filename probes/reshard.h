#pragma once
// reshard: does a Redis Cluster stay available, keep every acknowledged write and keep its
// throughput while a slot moves between primaries?
//
// Each run on a cluster target, `workers` concurrent loops each write a sequence-numbered key
// (SET <prefix>r:<run>:<seq> <run>:<seq> PX <key_ttl>) and read it back, through the probe's
// slot-routed cluster client (which follows MOVED and ASK), pausing `op_interval` between rounds.
// All keys share the probe's hash slot. The run has two phases:
//   baseline  `baseline` long, nothing moves;
//   move      when the target is chaos_allowed (and `move` is true) the probe moves its own slot
//             to another primary (daemon/redis/slot_migration.h: SETSLOT IMPORTING/MIGRATING,
//             MIGRATE KEYS in batches, SETSLOT NODE on every primary), keeps it there for `hold`,
//             and moves it back; otherwise it only watches for `hold` (a slot move by someone
//             else, e.g. the chaos engine, is seen as MOVED/ASK replies or a new slot owner).
// Then every acknowledged write is read back, and the run's keys are deleted.
//
// Measurements: unavailability_seconds (longest time without any successful operation, over the
// whole run), acked_readable_ratio (acknowledged writes readable with their value afterwards),
// throughput_degradation_ratio (1 - successful ops/s in the move phase / ops/s in the baseline;
// n/a when no slot moved), slots_moved_total. On a target that is not a cluster every measurement
// is n/a with the reason.
//
//   [[probes]]
//   type = "reshard"
//   target = "cluster"
//   interval = "30s"
//   timeout = "10s"
//   params = { baseline = "1s", hold = "500ms", workers = 4, op_interval = "1ms", move = true,
//              keys_per_batch = 100, key_ttl = "60s" }

#include <memory>

#include "daemon/redis/slot_migration.h"
#include "probes/registry.h"

namespace chaosd {

struct ReshardParams {
  Duration baseline = std::chrono::seconds(1);
  Duration hold = std::chrono::milliseconds(500);
  int workers = 4;
  Duration op_interval = std::chrono::milliseconds(1);
  bool move = true;
  int keys_per_batch = 100;
  Duration key_ttl = std::chrono::seconds(60);
};

class ReshardProbe final : public Probe {
 public:
  explicit ReshardProbe(ReshardParams params) : params_(params) {}
  boost::asio::awaitable<ProbeResult> run(ProbeContext& ctx) override;
  boost::asio::awaitable<Status> cleanup(ProbeContext& ctx) override;

  /// Time a run may spend moving its slot out and back (checked against the probe timeout).
  static constexpr Duration kMoveBudget = std::chrono::seconds(3);

  struct Workload;  // the workers' shared state (reshard.cpp)

 private:
  boost::asio::awaitable<void> control(ProbeContext& ctx, Workload& w);
  SlotMover& mover(ProbeContext& ctx);

  ReshardParams params_;
  uint64_t run_number_ = 0;
  std::shared_ptr<SlotMover> mover_;  // its moves outlive a cancelled run
};

ProbeType reshard_probe_type();

}  // namespace chaosd
