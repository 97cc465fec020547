// The warming probe's recorded access pattern and its strategies: deterministic per seed, the
// shape the probe documents (Zipf-like, a late trend), and strategies that pick what they say.

#include "probes/warming_pattern.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace chaosd {
namespace {

TEST(WarmingPattern, IsDeterministicPerSeed) {
  AccessPatternParams params;
  params.source_keys = 1000;
  params.history_reads = params.replay_reads = 2000;
  AccessPattern a = make_access_pattern(params);
  AccessPattern b = make_access_pattern(params);
  EXPECT_EQ(a.history, b.history);
  EXPECT_EQ(a.replay, b.replay);
  EXPECT_EQ(a.stable_ranking, b.stable_ranking);
  params.seed = 2;
  EXPECT_NE(make_access_pattern(params).history, a.history);
  EXPECT_EQ(a.history.size(), 2000u);
  EXPECT_EQ(a.replay.size(), 2000u);
  EXPECT_EQ(std::set<uint32_t>(a.stable_ranking.begin(), a.stable_ranking.end()).size(), 1000u);
}

TEST(WarmingPattern, PopularityFollowsTheStableRankingWithoutATrend) {
  AccessPatternParams params;
  params.trend = 0;
  params.history_reads = 100000;
  AccessPattern pattern = make_access_pattern(params);
  std::map<uint32_t, int> count;
  for (uint32_t item : pattern.history) ++count[item];
  // Zipf with s = 1.2: rank 1 is read 2^1.2 = 2.3 times as often as rank 2, far more than rank 100.
  const int top = count[pattern.stable_ranking[0]];
  const int second = count[pattern.stable_ranking[1]];
  const int hundredth = count[pattern.stable_ranking[99]];
  EXPECT_GT(top, 2 * second * 0.85);
  EXPECT_LT(top, 2.3 * second * 1.15);
  EXPECT_GT(second, 10 * hundredth);
}

TEST(WarmingPattern, TheTrendingItemsDominateTheEndOfAStrongTrend) {
  AccessPatternParams params;
  params.trend = 1.0;
  params.trending_keys = 10;
  AccessPattern pattern = make_access_pattern(params);
  std::set<uint32_t> trending(pattern.stable_ranking.end() - 10, pattern.stable_ranking.end());
  auto share = [&](const std::vector<uint32_t>& reads, size_t from, size_t to) {
    size_t n = 0;
    for (size_t i = from; i < to; ++i) n += trending.count(reads[i]);
    return static_cast<double>(n) / static_cast<double>(to - from);
  };
  EXPECT_LT(share(pattern.history, 0, 5000), 0.01);  // before kTrendStart: stable tail only
  EXPECT_GT(share(pattern.replay, 18000, 20000), 0.85);
}

TEST(WarmingPattern, StrategiesPickDistinctItemsByTheirRule) {
  AccessPattern pattern = make_access_pattern(AccessPatternParams{});
  auto priority = choose_warm_set(WarmStrategy::priority, pattern, 100);
  EXPECT_EQ(priority, std::vector<uint32_t>(pattern.stable_ranking.begin(),
                                            pattern.stable_ranking.begin() + 100));
  std::map<uint32_t, int> count;
  for (uint32_t item : pattern.history) ++count[item];
  auto frequency = choose_warm_set(WarmStrategy::frequency, pattern, 100);
  ASSERT_EQ(frequency.size(), 100u);
  EXPECT_EQ(std::set<uint32_t>(frequency.begin(), frequency.end()).size(), 100u);
  std::set<uint32_t> chosen(frequency.begin(), frequency.end());
  int least_chosen = count[frequency.back()];
  for (const auto& [item, n] : count) {
    if (chosen.count(item) == 0) {
      EXPECT_LE(n, least_chosen) << item;
    }
  }
  // The predictive set follows the rising items that the whole-history count underrates.
  auto predictive = choose_warm_set(WarmStrategy::predictive, pattern, 100);
  std::set<uint32_t> trending(pattern.stable_ranking.end() - 25, pattern.stable_ranking.end());
  auto trending_in = [&](const std::vector<uint32_t>& set) {
    int n = 0;
    for (uint32_t item : set) n += static_cast<int>(trending.count(item));
    return n;
  };
  EXPECT_GE(trending_in(predictive), trending_in(frequency));
  EXPECT_EQ(trending_in(priority), 0);
  // Asking for more than the history saw fills up from the priority list.
  EXPECT_EQ(choose_warm_set(WarmStrategy::frequency, pattern, 5000).size(), 5000u);
}

}  // namespace
}  // namespace chaosd
