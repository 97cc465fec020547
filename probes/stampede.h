#pragma once
// stampede: when a hot cached key expires under load, does single-flight recomputation hold, so
// that exactly one reader recomputes it while the others wait for its value?
//
// Each run, for each of `hot_keys` keys in turn, deletes the key and releases `readers`
// concurrent readers at the same moment (one shared timer; each reader has its own connection,
// so they really race on the server). A reader that misses tries SET <key>:lock <token> NX PX
// `lock_ttl`; the winner checks the value once more (the previous holder may have published it
// between the reader's GET and its SET NX) and, still missing, INCRs <key>:recomputes,
// "recomputes" for `compute` and writes the value with PX `value_ttl`; it then releases the lock
// with a compare-and-delete script.
// The losers poll GET every `poll_interval` (retrying the lock while the value is still missing)
// for up to `max_wait`.
// With `holder_death`, one extra round has a holder that takes the lock and dies without writing:
// takeover_seconds is the time from that holder's SET until a reader holds the lock, which the
// lock's TTL alone bounds from below.
//
// Measurements: recomputations_per_expiry (recomputes per hot key), stampede_prevention_ratio
// (1 - extra recomputations / (readers - 1), averaged over keys), lock_acquire_seconds (p99 of
// miss to lock granted, for the winners), computation_efficiency_ratio (computations whose value
// was used / all computations), reader_wait_seconds (p99 of miss to value in hand, every reader)
// and takeover_seconds.
//
//   [[probes]]
//   type = "stampede"
//   target = "main"
//   interval = "10s"
//   timeout = "5s"
//   params = { hot_keys = 1, readers = 32, compute = "20ms", lock_ttl = "200ms",
//              value_ttl = "5s", max_wait = "1s", poll_interval = "1ms", holder_death = true }

#include <memory>
#include <optional>
#include <vector>

#include "probes/registry.h"

namespace chaosd {

struct StampedeParams {
  int hot_keys = 1;
  int readers = 32;
  Duration compute = std::chrono::milliseconds(20);
  Duration lock_ttl = std::chrono::milliseconds(200);
  Duration value_ttl = std::chrono::seconds(5);
  Duration max_wait = std::chrono::seconds(1);
  Duration poll_interval = std::chrono::milliseconds(1);
  bool holder_death = true;
};

class StampedeProbe final : public Probe {
 public:
  explicit StampedeProbe(StampedeParams params) : params_(params) {}
  boost::asio::awaitable<ProbeResult> run(ProbeContext& ctx) override;
  boost::asio::awaitable<Status> cleanup(ProbeContext& ctx) override;

  struct Round;  // one stampede on one key (stampede.cpp)

 private:
  boost::asio::awaitable<void> stampede(ProbeContext& ctx, Round& round);
  void open_readers(ProbeContext& ctx);

  StampedeParams params_;
  uint64_t run_number_ = 0;
  std::vector<std::unique_ptr<RedisConnection>> readers_;  // one per reader, kept across runs
  std::optional<NodeAddress> readers_node_;                // where readers_ point (cluster node)
};

ProbeType stampede_probe_type();

}  // namespace chaosd
