#include "probes/warming_pattern.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace chaosd {
namespace {

// A double in [0, 1) from the generator's top 53 bits: the same on every standard library
// (std::uniform_real_distribution is not specified bit for bit).
double unit(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// The `count` items with the highest score, ties broken by the priority list so that the choice
// is deterministic; filled up from the priority list when fewer items have a score.
std::vector<uint32_t> top_by_score(const std::vector<double>& score, const AccessPattern& pattern,
                                   size_t count) {
  std::vector<uint32_t> order = pattern.stable_ranking;
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return score[a] > score[b]; });
  order.resize(std::min(count, order.size()));
  return order;
}

}  // namespace

AccessPattern make_access_pattern(const AccessPatternParams& params) {
  std::mt19937_64 rng(params.seed);
  const auto n = static_cast<size_t>(params.source_keys);
  AccessPattern pattern;
  pattern.stable_ranking.resize(n);
  std::iota(pattern.stable_ranking.begin(), pattern.stable_ranking.end(), 0u);
  std::shuffle(pattern.stable_ranking.begin(), pattern.stable_ranking.end(), rng);

  std::vector<double> cumulative(n);
  double total = 0;
  for (size_t r = 0; r < n; ++r) {
    total += std::pow(static_cast<double>(r + 1), -params.zipf_exponent);
    cumulative[r] = total;
  }
  const auto trending = static_cast<size_t>(params.trending_keys);
  const double reads = static_cast<double>(params.history_reads + params.replay_reads);
  auto draw = [&](int i) -> uint32_t {
    const double when = i / reads;
    const double share =
        when < kTrendStart ? 0 : params.trend * (when - kTrendStart) / (1 - kTrendStart);
    if (trending > 0 && unit(rng) < share) {
      return pattern.stable_ranking[n - 1 - static_cast<size_t>(unit(rng) * trending)];
    }
    auto rank = std::upper_bound(cumulative.begin(), cumulative.end(), unit(rng) * total) -
                cumulative.begin();
    return pattern.stable_ranking[std::min(static_cast<size_t>(rank), n - 1)];
  };
  pattern.history.reserve(params.history_reads);
  for (int i = 0; i < params.history_reads; ++i) pattern.history.push_back(draw(i));
  pattern.replay.reserve(params.replay_reads);
  for (int i = 0; i < params.replay_reads; ++i) {
    pattern.replay.push_back(draw(params.history_reads + i));
  }
  return pattern;
}

const char* to_string(WarmStrategy strategy) {
  switch (strategy) {
    case WarmStrategy::priority:
      return "priority";
    case WarmStrategy::frequency:
      return "frequency";
    case WarmStrategy::predictive:
      return "predictive";
  }
  return "?";
}

std::vector<uint32_t> choose_warm_set(WarmStrategy strategy, const AccessPattern& pattern,
                                      size_t count) {
  std::vector<double> score(pattern.stable_ranking.size(), 0.0);
  switch (strategy) {
    case WarmStrategy::priority:
      break;  // all scores equal: the priority list itself
    case WarmStrategy::frequency:
      for (uint32_t item : pattern.history) score[item] += 1;
      break;
    case WarmStrategy::predictive: {
      const double half_life = std::max(1.0, static_cast<double>(pattern.history.size()) / 5);
      const size_t last = pattern.history.size() - 1;
      for (size_t i = 0; i < pattern.history.size(); ++i) {
        score[pattern.history[i]] += std::exp2(-static_cast<double>(last - i) / half_life);
      }
      break;
    }
  }
  return top_by_score(score, pattern, count);
}

}  // namespace chaosd
