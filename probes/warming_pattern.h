#pragma once
// The warming probe's workload, computed in process and deterministic for a seed: a recorded
// access pattern over a source of truth of `source_keys` items (a Zipf-like popularity plus a set
// of items that start trending part-way through), split into a history (what a warming strategy
// may look at) and a replay (the reads that come after the warm), and the three strategies that
// choose what to warm from it. Pure logic: no Redis, no clock.

#include <cstdint>
#include <string>
#include <vector>

namespace chaosd {

struct AccessPatternParams {
  int source_keys = 5000;
  int history_reads = 20000;
  int replay_reads = 20000;
  double zipf_exponent = 1.2;  // popularity of the item of stable rank r is (r + 1)^-s
  double trend = 0.2;          // share of reads that go to the trending items at the very end
  int trending_keys = 25;      // the least popular items of the stable ranking start trending
  uint64_t seed = 1;
};

struct AccessPattern {
  std::vector<uint32_t> stable_ranking;  // item ids, most popular first (before any trend)
  std::vector<uint32_t> history;         // item ids in access order
  std::vector<uint32_t> replay;
};

/// The trend starts at this fraction of the whole pattern (history + replay) and grows linearly
/// to `trend` at its end.
inline constexpr double kTrendStart = 0.3;

AccessPattern make_access_pattern(const AccessPatternParams& params);

enum class WarmStrategy { priority, frequency, predictive };
const char* to_string(WarmStrategy strategy);
inline constexpr WarmStrategy kWarmStrategies[] = {WarmStrategy::priority, WarmStrategy::frequency,
                                                   WarmStrategy::predictive};

/// The `count` items a strategy warms, all distinct:
/// - priority: a static priority list (the stable ranking: what a curated list would say);
/// - frequency: the most accessed items of the history;
/// - predictive: the items with the highest recency-weighted access count over the history
///   (each access weighs 2^(-age / half-life), half-life = 1/5 of the history), which favours
///   items whose popularity is rising.
/// Frequency and predictive fill up with the priority list when the history has fewer distinct
/// items than `count`.
std::vector<uint32_t> choose_warm_set(WarmStrategy strategy, const AccessPattern& pattern,
                                      size_t count);

}  // namespace chaosd
