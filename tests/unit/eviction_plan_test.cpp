// The eviction probe's fill plan: how many keys a run writes for a node's maxmemory, and the
// reasons it refuses to write any.

#include "probes/eviction_plan.h"

#include <gtest/gtest.h>

namespace chaosd {
namespace {

std::string refusal(const MemoryLimits& limits, const EvictionParams& params = {}) {
  auto plan = plan_fill(limits, params, 24);
  const auto* reason = std::get_if<std::string>(&plan);
  return reason ? *reason : "";
}

TEST(EvictionPlan, FillsFillFactorTimesMaxmemoryWithHotAndColdKeys) {
  EvictionParams params;  // 500 hot keys of 1024 bytes, fill_factor 1.5
  auto plan = plan_fill({16 << 20, "allkeys-lru", "CONFIG GET"}, params, 24);
  ASSERT_TRUE(std::holds_alternative<FillPlan>(plan)) << std::get<std::string>(plan);
  const FillPlan& fill = std::get<FillPlan>(plan);
  EXPECT_EQ(fill.key_bytes, 24 + 1024);
  const int64_t written = (params.hot_keys + fill.cold_keys) * fill.key_bytes;
  EXPECT_GE(written, static_cast<int64_t>(1.5 * (16 << 20)));
  EXPECT_LT(written, static_cast<int64_t>(1.5 * (16 << 20)) + fill.key_bytes);
}

TEST(EvictionPlan, AHotSetBiggerThanTheFillStillGetsOneBatchOfColdKeys) {
  EvictionParams params;
  params.hot_keys = 5000;
  auto plan = plan_fill({1 << 20, "allkeys-lru", "CONFIG GET"}, params, 24);
  ASSERT_TRUE(std::holds_alternative<FillPlan>(plan));
  EXPECT_EQ(std::get<FillPlan>(plan).cold_keys, params.batch_keys);
}

TEST(EvictionPlan, EveryEvictingPolicyIsMeasuredVolatileOnesIncluded) {
  for (const char* policy : {"allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru",
                             "volatile-lfu", "volatile-random", "volatile-ttl"}) {
    EXPECT_EQ(refusal({16 << 20, policy, "CONFIG GET"}), "") << policy;
  }
}

TEST(EvictionPlan, RefusesNodesThatCannotEvictOrAreTooBigToFill) {
  EXPECT_NE(refusal({0, "allkeys-lru", "CONFIG GET"}).find("maxmemory is 0"), std::string::npos);
  EXPECT_NE(refusal({16 << 20, "noeviction", "CONFIG GET"}).find("noeviction does not evict"),
            std::string::npos);
  EXPECT_NE(refusal({16 << 20, "lru-please", "CONFIG GET"}).find("does not evict"),
            std::string::npos);
  // 1.5 x 64 MiB is over the 64 MiB default.
  EXPECT_NE(refusal({64 << 20, "allkeys-lru", "CONFIG GET"}).find("over max_fill_bytes 64.0 MiB"),
            std::string::npos);
  EvictionParams few_keys;
  few_keys.value_bytes = 16;
  few_keys.max_fill_keys = 10'000;
  EXPECT_NE(refusal({16 << 20, "allkeys-lru", "CONFIG GET"}, few_keys).find("max_fill_keys"),
            std::string::npos);
}

}  // namespace
}  // namespace chaosd
