// Toxic scheduling with hand-driven time: what each toxic does to the bytes of a chunk, the token
// bucket, and that release times never go backwards.

#include <gtest/gtest.h>

#include "chaos/proxy/toxic.h"

namespace chaosd {
namespace {
using namespace std::chrono_literals;

const SteadyTime kStart = SteadyTime{} + 1000h;

ActiveToxic make(uint64_t id, ToxicType type,
                 ToxicDirection direction = ToxicDirection::downstream) {
  ActiveToxic toxic;
  toxic.id = id;
  toxic.spec.type = type;
  toxic.spec.name = "t" + std::to_string(id);
  toxic.spec.direction = direction;
  return toxic;
}

// Slices must cover [0, size) contiguously, in order, with non-decreasing release times.
void expect_covers(const std::vector<Slice>& slices, size_t size) {
  size_t next = 0;
  SteadyTime last{};
  for (const auto& s : slices) {
    EXPECT_EQ(s.offset, next);
    EXPECT_GT(s.size, 0u);
    EXPECT_GE(s.release, last);
    next += s.size;
    last = s.release;
  }
  EXPECT_EQ(next, size);
}

TEST(ToxicPipeline, NoToxicReleasesAtOnce) {
  ToxicPipeline pipeline(1);
  const auto& slices = pipeline.schedule({}, ToxicDirection::downstream, 100, kStart);
  ASSERT_EQ(slices.size(), 1u);
  EXPECT_EQ(slices[0].size, 100u);
  EXPECT_EQ(slices[0].release, kStart);
}

TEST(ToxicPipeline, LatencyShiftsOnlyItsDirection) {
  std::vector<ActiveToxic> toxics{make(1, ToxicType::latency)};
  toxics[0].spec.params.latency = 20ms;
  ToxicPipeline down(1);
  ToxicPipeline up(2);
  EXPECT_EQ(down.schedule(toxics, ToxicDirection::downstream, 10, kStart)[0].release,
            kStart + 20ms);
  EXPECT_EQ(up.schedule(toxics, ToxicDirection::upstream, 10, kStart)[0].release, kStart);
  EXPECT_TRUE(shapes_data(toxics, ToxicDirection::downstream));
  EXPECT_FALSE(shapes_data(toxics, ToxicDirection::upstream));
}

TEST(ToxicPipeline, JitterStaysInRangeAndNeverReorders) {
  std::vector<ActiveToxic> toxics{make(1, ToxicType::latency)};
  toxics[0].spec.params.latency = 20ms;
  toxics[0].spec.params.jitter = 10ms;
  ToxicPipeline pipeline(7);
  SteadyTime last{};
  Duration min = 1h;
  Duration max{};
  for (int i = 0; i < 2000; ++i) {
    const SteadyTime arrival = kStart + i * 100us;
    const auto& slices = pipeline.schedule(toxics, ToxicDirection::downstream, 10, arrival);
    ASSERT_EQ(slices.size(), 1u);
    EXPECT_GE(slices[0].release, last) << "chunk " << i << " would overtake the one before";
    EXPECT_GE(slices[0].release, arrival + 10ms);
    last = slices[0].release;
    min = std::min<Duration>(min, last - arrival);
    max = std::max<Duration>(max, last - arrival);
  }
  EXPECT_LT(min, 15ms) << "jitter never went below the base latency";
  EXPECT_GT(max, 25ms) << "jitter never went above the base latency";

  ToxicRng rng(3);
  for (int i = 0; i < 1000; ++i) {
    const Duration d = latency_delay(toxics[0].spec.params, rng);
    EXPECT_GE(d, 10ms);
    EXPECT_LE(d, 30ms);
  }
}

TEST(ToxicPipeline, PartitionDropsEverything) {
  std::vector<ActiveToxic> toxics{make(1, ToxicType::latency), make(2, ToxicType::partition)};
  ToxicPipeline pipeline(1);
  EXPECT_TRUE(pipeline.schedule(toxics, ToxicDirection::downstream, 500, kStart).empty());
  EXPECT_EQ(pipeline.schedule(toxics, ToxicDirection::upstream, 500, kStart).size(), 1u);
}

TEST(ToxicPipeline, TimeoutHoldsButDoesNotReshape) {
  std::vector<ActiveToxic> toxics{make(1, ToxicType::timeout, ToxicDirection::upstream)};
  EXPECT_TRUE(holds_data(toxics, ToxicDirection::upstream));
  EXPECT_FALSE(holds_data(toxics, ToxicDirection::downstream));
  EXPECT_FALSE(shapes_data(toxics, ToxicDirection::upstream));
}

TEST(TokenBucket, SpendsTheBurstThenPaysDebtAtTheRate) {
  TokenBucket bucket(1000, 100, kStart);
  EXPECT_EQ(bucket.reserve(100, kStart), kStart);          // the burst
  EXPECT_EQ(bucket.reserve(500, kStart), kStart + 500ms);  // 500 bytes of debt at 1000 B/s
  EXPECT_EQ(bucket.reserve(500, kStart), kStart + 1s);
  // After a long idle time the bucket is full again, but never more than the burst.
  EXPECT_EQ(bucket.reserve(100, kStart + 10s), kStart + 10s);
  EXPECT_EQ(bucket.reserve(100, kStart + 10s), kStart + 10s + 100ms);
}

TEST(ToxicPipeline, BandwidthSpreadsBytesAtTheRate) {
  std::vector<ActiveToxic> toxics{make(1, ToxicType::bandwidth)};
  toxics[0].spec.params.rate_bytes_per_second = 100'000;
  ToxicPipeline pipeline(1);
  SteadyTime last{};
  size_t total = 0;
  for (int chunk = 0; chunk < 13; ++chunk) {  // ~200 KB read as fast as possible
    const auto& slices = pipeline.schedule(toxics, ToxicDirection::downstream, 16384, kStart);
    expect_covers(slices, 16384);
    for (const auto& s : slices) EXPECT_LE(s.size, bandwidth_piece_bytes(100'000));
    last = slices.back().release;
    total += 16384;
  }
  const double seconds = std::chrono::duration<double>(last - kStart).count();
  const double expected = static_cast<double>(total - bandwidth_piece_bytes(100'000)) / 100'000;
  EXPECT_NEAR(seconds, expected, 0.001);
}

TEST(ToxicPipeline, SlicerCutsChunksWithDelays) {
  std::vector<ActiveToxic> toxics{make(1, ToxicType::slicer)};
  toxics[0].spec.params.average_size_bytes = 100;
  toxics[0].spec.params.size_variation_bytes = 30;
  toxics[0].spec.params.slice_delay = 1ms;
  ToxicPipeline pipeline(5);
  const auto& slices = pipeline.schedule(toxics, ToxicDirection::downstream, 10'000, kStart);
  expect_covers(slices, 10'000);
  ASSERT_GT(slices.size(), 70u);
  for (size_t i = 0; i + 1 < slices.size(); ++i) {
    EXPECT_GE(slices[i].size, 70u);
    EXPECT_LE(slices[i].size, 130u);
    EXPECT_EQ(slices[i + 1].release - slices[i].release, 1ms);
  }
}

TEST(ToxicPipeline, ToxicsChainInOrder) {
  // latency then slicer: every slice is at least the latency late, and spaced by the slicer.
  std::vector<ActiveToxic> toxics{make(1, ToxicType::latency), make(2, ToxicType::slicer)};
  toxics[0].spec.params.latency = 50ms;
  toxics[1].spec.params.average_size_bytes = 10;
  toxics[1].spec.params.slice_delay = 1ms;
  ToxicPipeline pipeline(1);
  const auto& slices = pipeline.schedule(toxics, ToxicDirection::downstream, 100, kStart);
  ASSERT_EQ(slices.size(), 10u);
  EXPECT_EQ(slices.front().release, kStart + 50ms);
  EXPECT_EQ(slices.back().release, kStart + 59ms);
}

TEST(ToxicPipeline, ReleaseHeldLowersTheOrderingFloor) {
  std::vector<ActiveToxic> toxics{make(1, ToxicType::latency)};
  toxics[0].spec.params.latency = 10s;
  ToxicPipeline pipeline(1);
  (void)pipeline.schedule(toxics, ToxicDirection::downstream, 10, kStart);
  // Without release_held, a later chunk without latency must still wait behind the first.
  EXPECT_EQ(pipeline.schedule({}, ToxicDirection::downstream, 10, kStart + 1s)[0].release,
            kStart + 10s);
  pipeline.release_held({}, kStart + 1s);
  EXPECT_EQ(pipeline.schedule({}, ToxicDirection::downstream, 10, kStart + 1s)[0].release,
            kStart + 1s);
}

TEST(ToxicPipeline, SliceSizesRespectRemainingBytes) {
  ToxicParams params;
  params.average_size_bytes = 100;
  params.size_variation_bytes = 99;
  ToxicRng rng(9);
  for (int i = 0; i < 1000; ++i) {
    const size_t size = slice_size(params, 50, rng);
    EXPECT_GE(size, 1u);
    EXPECT_LE(size, 50u);
  }
  EXPECT_EQ(bandwidth_piece_bytes(10), 1u);
  EXPECT_EQ(bandwidth_piece_bytes(100'000), 2000u);
}

}  // namespace
}  // namespace chaosd
