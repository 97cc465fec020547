#pragma once
// lock: how does a Redis lock behave under contention? Each run has three parts:
// - contention: `workers` coroutines, each with its own connection, contend on `locks` locks for
//   `duration` (or until `max_acquisitions`). Acquiring is one Lua script (SET NX PX `lease`, then
//   INCR of the lock's fencing counter) retried every ~`retry_interval` (with jitter) until it
//   succeeds or `acquire_timeout` passes; the holder works for up to `hold_time` and releases
//   with compare-and-delete. Reported: acquire p99, acquisitions/s, attempts that gave up, and
//   safety violations (fencing tokens not strictly increasing per lock, or two workers holding
//   one lock at once as seen by the probe's own holder map);
// - deadlock: two workers each hold one lock and request the other's. The probe's wait-for graph
//   finds the cycle (deadlock_detection_seconds: from the request that closed the cycle until
//   detection) and resolves it by making the younger holder release;
// - timeout resolution: the same cycle with no detector: each party gives up its wait after
//   (n + 1) x `deadlock_timeout`, so the first to time out lets the other through
//   (deadlock_timeout_resolution_seconds: cycle formed -> the other holds both locks; with a
//   lease shorter than that, the lease's expiry breaks the cycle first, and that is measured);
// - resource ordering: two parties need the same two locks and take them in one global order,
//   so no wait-for cycle can form (ordered_deadlocks_total, ordered_completion_ratio); with
//   `ordered = false` the second party takes them reversed, to show what the ordering prevents;
// - lease expiry: a holder "dies" without releasing; lease_expiry_recovery_seconds is the time
//   from its acquisition until another worker holds the lock (the lease plus the retry delay).
// Every key lives under the probe's hash-tagged prefix (one slot: on a cluster the workers
// connect to the node serving it) and carries a TTL.
//
//   [[probes]]
//   type = "lock"
//   target = "main"
//   interval = "30s"
//   timeout = "10s"
//   params = { workers = 8, locks = 4, duration = "1s", max_acquisitions = 0, lease = "100ms",
//              acquire_timeout = "1s", hold_time = "1ms", retry_interval = "1ms",
//              deadlock_timeout = "50ms", ordered = true }

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>

#include "probes/registry.h"

namespace chaosd {

struct LockParams {
  int workers = 8;
  int locks = 4;
  Duration duration = std::chrono::seconds(1);
  int64_t max_acquisitions = 0;  // 0: no limit, `duration` alone bounds the contention
  Duration lease = std::chrono::milliseconds(100);
  Duration acquire_timeout = std::chrono::seconds(1);
  Duration hold_time = std::chrono::milliseconds(1);       // each hold is uniform in [0, hold_time]
  Duration retry_interval = std::chrono::milliseconds(1);  // +-50% jitter
  Duration deadlock_timeout = std::chrono::milliseconds(50);  // timeout-resolution scenario
  bool ordered = true;  // false: the ordering scenario's second party takes the locks reversed
};

/// The probe's in-process wait-for graph: which worker holds which lock and which lock each
/// worker waits for. Not thread-safe.
struct LockWaitForGraph {
  std::map<std::string, int> holder;                            // lock -> worker
  std::map<int, SteadyTime> holding_since;                      // worker -> when it took a lock
  std::map<int, std::pair<std::string, SteadyTime>> waits_for;  // worker -> lock, since when

  struct Cycle {
    SteadyTime formed;  // when the cycle's last wait-for edge appeared
    int youngest;       // the member that began holding last: the one to give way
  };
  /// Follows worker -> the lock it waits for -> that lock's holder -> ...; a return to `start`
  /// is a deadlock. Every worker in `waits_for` must be in `holding_since`.
  std::optional<Cycle> cycle_through(int start) const;
};

/// Not thread-safe: runs on the loop thread of its ProbeRunner.
class LockProbe final : public Probe {
 public:
  explicit LockProbe(LockParams params) : params_(params) {}
  boost::asio::awaitable<ProbeResult> run(ProbeContext& ctx) override;
  boost::asio::awaitable<Status> cleanup(ProbeContext& ctx) override;

 private:
  LockParams params_;
  uint64_t run_number_ = 0;
  std::mt19937_64 random_{std::random_device{}()};
};

ProbeType lock_probe_type();

}  // namespace chaosd
