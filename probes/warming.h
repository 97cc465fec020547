#pragma once
// warming: how fast can a cache be warmed, and how much of the traffic that follows does each
// warming strategy serve?
//
// The probe keeps an in-process source of truth of `source_keys` items and a recorded access
// pattern (probes/warming_pattern.h: Zipf-like popularity plus items that start trending, fixed by
// `seed`), split into a history and a replay. For each strategy (priority, frequency, predictive)
// a run flushes the probe's own namespace (SCAN + UNLINK of its prefix, never FLUSHDB), warms the
// `warm_keys` items the strategy picks from the history with pipelined SET PX, waits
// `replay_delay`, then replays the replay's reads as pipelined GETs (read only: a miss is not
// filled) and counts hits, a hit being the source's value. Cold reads (GET miss, fetch from the
// source taking `source_latency`, SET) are timed once on the flushed namespace, warm reads (GET
// hit) after the last warm.
//
// Measurements, per strategy (subject = strategy): warm_time_seconds, hit_rate_ratio,
// warming_efficiency_ratio (warmed keys read at least once in the replay / keys warmed); and
// cold_read_seconds, warm_read_seconds (medians of reads sent one at a time).
//
//   [[probes]]
//   type = "warming"
//   target = "main"
//   interval = "30s"
//   timeout = "10s"
//   params = { source_keys = 5000, warm_keys = 250, history_reads = 20000, replay_reads = 20000,
//              zipf_exponent = 1.2, trend = 0.2, trending_keys = 25, seed = 1, value_bytes = 64,
//              batch_keys = 1000, key_ttl = "1m", replay_delay = "0s", source_latency = "1ms",
//              latency_samples = 50 }

#include <cstdint>
#include <string>
#include <vector>

#include "probes/registry.h"
#include "probes/warming_pattern.h"

namespace chaosd {

struct WarmingParams {
  AccessPatternParams pattern;
  int warm_keys = 250;
  int value_bytes = 64;
  int batch_keys = 1000;  // commands per pipeline, for the warm and the replay
  Duration key_ttl = std::chrono::minutes(1);
  Duration replay_delay = Duration::zero();  // between the warm and the replay
  Duration source_latency = std::chrono::milliseconds(1);
  int latency_samples = 50;
};

class WarmingProbe final : public Probe {
 public:
  explicit WarmingProbe(WarmingParams params);
  boost::asio::awaitable<ProbeResult> run(ProbeContext& ctx) override;
  boost::asio::awaitable<Status> cleanup(ProbeContext& ctx) override;

 private:
  std::string key_of(const ProbeContext& ctx, uint32_t item) const;
  std::string value_of(uint32_t item) const;  // the source of truth
  boost::asio::awaitable<bool> measure_strategy(ProbeContext& ctx, WarmStrategy strategy,
                                                ProbeResult& result);
  boost::asio::awaitable<bool> cold_reads(ProbeContext& ctx, ProbeResult& result);
  boost::asio::awaitable<bool> warm_reads(ProbeContext& ctx, WarmStrategy strategy,
                                          ProbeResult& result);

  WarmingParams params_;
  AccessPattern pattern_;
  std::vector<std::vector<uint32_t>> warm_sets_;  // per strategy, in kWarmStrategies order
};

ProbeType warming_probe_type();

}  // namespace chaosd
