#pragma once
// eviction: under memory pressure, does the target's eviction policy keep a hot subset of keys
// while it evicts cold ones, how slow are commands while it evicts, and does the hot set's hit
// rate come back once the pressure is over?
//
// The probe fills the node serving its key prefix beyond its maxmemory, so it belongs on a node
// where evicting is acceptable (the lab gives it one of its own: the `eviction` topology). It reads
// maxmemory and maxmemory-policy (CONFIG GET, or INFO memory when CONFIG is refused or renamed)
// and reports every measurement not applicable, with the reason, when nothing can be evicted
// (maxmemory 0, noeviction) or when filling would take more than max_fill_bytes / max_fill_keys.
// Every probe key has a TTL, so volatile-* policies evict them as allkeys-* would.
//
// One run: write `hot_keys` hot keys and read them (hit rate before); then, for
// `pressure_duration`, write cold keys in pipelined batches until the payload written reaches
// fill_factor x maxmemory, reading the whole hot set every `hot_read_interval` and timing one
// lone SET and one lone GET per batch; then count which hot and cold keys are left, re-write the
// missing hot keys (cache-aside) and read the hot set again; finally delete the run's keys.
//
// Redis' LRU clock ticks once a second, so a policy can tell hot from cold only if each second's
// writes are well under what the node holds: keep pressure_duration at about 3 x fill_factor
// seconds or more (fill_factor of payload fills ~1.3 x as much memory).
//
// Measurements: eviction_latency_seconds (p99 of the lone commands sent once the server was
// evicting), hot_set_survival_ratio, eviction_efficiency_ratio (1 - hot keys' eviction rate /
// cold keys' eviction rate: 0 is no better than random), hit_rate_recovery_ratio and
// evicted_keys_total (INFO stats delta on the node).
//
//   [[probes]]
//   type = "eviction"
//   target = "eviction"
//   interval = "1m"
//   timeout = "15s"
//   params = { hot_keys = 500, value_bytes = 1024, fill_factor = 1.5, pressure_duration = "5s",
//              hot_read_interval = "100ms", batch_keys = 100, key_ttl = "2m",
//              max_fill_bytes = 67108864, max_fill_keys = 200000 }

#include <cstdint>
#include <string>

#include "probes/eviction_plan.h"
#include "probes/registry.h"

namespace chaosd {

class EvictionProbe final : public Probe {
 public:
  explicit EvictionProbe(EvictionParams params) : params_(params) {}
  boost::asio::awaitable<ProbeResult> run(ProbeContext& ctx) override;
  boost::asio::awaitable<Status> cleanup(ProbeContext& ctx) override;

  struct Run;  // one run's keys and counts (eviction.cpp)

 private:
  boost::asio::awaitable<bool> prepare(ProbeContext& ctx, Run& run, ProbeResult& result);
  boost::asio::awaitable<bool> pressure(ProbeContext& ctx, Run& run, ProbeResult& result);
  boost::asio::awaitable<bool> measure(ProbeContext& ctx, Run& run, ProbeResult& result);

  EvictionParams params_;
  uint64_t run_number_ = 0;
};

ProbeType eviction_probe_type();

}  // namespace chaosd
