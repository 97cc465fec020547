#pragma once
// durability: are acknowledged writes still there later, and do unacknowledged ones show up?
// A Jepsen-style history check, run continuously.
//
// Each run, one writer sends `SET <prefix>w:<run>:<seq> <run>:<seq> PX <key_ttl>` one at a time
// for `duration` (at most `max_writes`), pausing `write_interval` between writes, and records
// each write as acknowledged (+OK) or not (an error, a timeout, no connection: the outcome may be
// unknown). After `settle` it reads every key back from the primary (pipelined GETs), and then
// from every replica (the listed or discovered replicas of a `replicated` target, the
// non-writable regions of a `regions` target, the replicas of the slot's shard on a cluster),
// re-reading what is still missing there until `replica_wait` has passed. Finally it deletes the
// run's keys.
//
// Measurements (per run; replicas carry their name as subject): acked_writes_total,
// unacked_writes_total, lost_writes_total (acknowledged but missing or changed),
// phantom_writes_total (not acknowledged but present) and lost_write_ratio (lost / acked).
// Default SLA: lost_writes_total == 0.
//
//   [[probes]]
//   type = "durability"
//   target = "replicated"
//   interval = "10s"
//   timeout = "8s"
//   params = { duration = "1s", write_interval = "1ms", max_writes = 10000, settle = "100ms",
//              replica_wait = "2s", key_ttl = "60s" }

#include <memory>
#include <string>

#include "probes/registry.h"
#include "probes/replicas.h"

namespace chaosd {

struct DurabilityParams {
  Duration duration = std::chrono::seconds(1);
  Duration write_interval = std::chrono::milliseconds(1);
  int max_writes = 10000;
  Duration settle = std::chrono::milliseconds(100);
  Duration replica_wait = std::chrono::seconds(2);
  Duration key_ttl = std::chrono::seconds(60);
};

class DurabilityProbe final : public Probe {
 public:
  explicit DurabilityProbe(DurabilityParams params) : params_(params) {}
  boost::asio::awaitable<ProbeResult> run(ProbeContext& ctx) override;
  boost::asio::awaitable<Status> cleanup(ProbeContext& ctx) override;

  /// Reading back from the primary after a restart retries for this long before giving up.
  static constexpr Duration kReadRetryWindow = std::chrono::seconds(1);

 private:
  DurabilityParams params_;
  uint64_t run_number_ = 0;
  EndpointConnections replica_connections_{"replica"};
};

ProbeType durability_probe_type();

}  // namespace chaosd
