#include "daemon/sla/window_counter.h"

#include <gtest/gtest.h>

namespace chaosd {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// Events are placed relative to the counter's origin, so bucket edges are known exactly.
class WindowCounterTest : public ::testing::Test {
 protected:
  ManualClock clock_;
  const SteadyTime t0_ = clock_.steady_now();
};

TEST_F(WindowCounterTest, BucketWidthIsWholeSecondsCoveringTheWindow) {
  EXPECT_EQ(WindowCounter(minutes(5), t0_).bucket_width(), seconds(1));
  EXPECT_EQ(WindowCounter(seconds(10), t0_).bucket_width(), seconds(1));
  EXPECT_EQ(WindowCounter(milliseconds(500), t0_).bucket_width(), seconds(1));
  EXPECT_EQ(WindowCounter(hours(1), t0_).bucket_width(), seconds(12));
  EXPECT_EQ(WindowCounter(hours(24), t0_).bucket_width(), seconds(288));
  EXPECT_EQ(WindowCounter(hours(24 * 30), t0_).bucket_width(), seconds(8640));
  // 301 s / 300 buckets is just over a second: rounds up so 300 buckets still span the window.
  EXPECT_EQ(WindowCounter(seconds(301), t0_).bucket_width(), seconds(2));
  EXPECT_EQ(WindowCounter(minutes(7), t0_).window(), minutes(7));
}

TEST_F(WindowCounterTest, EmptyCounterCountsNothing) {
  WindowCounter counter(minutes(5), t0_);
  const EventCounts counts = counter.counts(t0_ + minutes(1));
  EXPECT_EQ(counts.good, 0u);
  EXPECT_EQ(counts.bad, 0u);
  EXPECT_EQ(counts.total(), 0u);
}

TEST_F(WindowCounterTest, CountsGoodAndBadSeparately) {
  WindowCounter counter(minutes(5), t0_);
  for (int i = 0; i < 7; ++i) counter.add(t0_ + seconds(i), true);
  for (int i = 0; i < 3; ++i) counter.add(t0_ + seconds(10 + i), false);
  const EventCounts counts = counter.counts(t0_ + seconds(20));
  EXPECT_EQ(counts.good, 7u);
  EXPECT_EQ(counts.bad, 3u);
  EXPECT_EQ(counts.total(), 10u);
}

TEST_F(WindowCounterTest, EventLeavesTheWindowAfterExactlyTheWindow) {
  WindowCounter counter(minutes(5), t0_);
  counter.add(t0_ + milliseconds(500), false);
  EXPECT_EQ(counter.counts(t0_ + seconds(299) + milliseconds(999)).bad, 1u);
  EXPECT_EQ(counter.counts(t0_ + seconds(300)).bad, 0u);
}

TEST_F(WindowCounterTest, WideBucketsAgeOutWholeBuckets) {
  WindowCounter counter(hours(1), t0_);  // 12 s buckets
  counter.add(t0_, true);
  counter.add(t0_ + seconds(11), true);  // same bucket as t0
  counter.add(t0_ + seconds(12), true);  // next bucket
  EXPECT_EQ(counter.counts(t0_ + seconds(3599)).good, 3u);
  EXPECT_EQ(counter.counts(t0_ + seconds(3600)).good, 1u);
  EXPECT_EQ(counter.counts(t0_ + seconds(3612)).good, 0u);
}

TEST_F(WindowCounterTest, ReusedSlotForgetsTheOldBucket) {
  WindowCounter counter(minutes(5), t0_);
  counter.add(t0_, true);
  counter.add(t0_ + seconds(300), false);  // same ring slot, one ring later
  const EventCounts counts = counter.counts(t0_ + seconds(300));
  EXPECT_EQ(counts.good, 0u);
  EXPECT_EQ(counts.bad, 1u);
}

TEST_F(WindowCounterTest, LongGapLeavesOnlyNewEvents) {
  WindowCounter counter(minutes(5), t0_);
  for (int i = 0; i < 300; ++i) counter.add(t0_ + seconds(i), true);
  EXPECT_EQ(counter.counts(t0_ + seconds(299)).good, 300u);
  counter.add(t0_ + hours(10), false);
  const EventCounts counts = counter.counts(t0_ + hours(10));
  EXPECT_EQ(counts.good, 0u);
  EXPECT_EQ(counts.bad, 1u);
}

TEST_F(WindowCounterTest, SlidingWindowDropsOldestSecondEachSecond) {
  WindowCounter counter(minutes(5), t0_);
  for (int i = 0; i < 600; ++i) counter.add(t0_ + seconds(i), i % 2 == 0);
  // Buckets 300..599 are in the window: 150 even (good), 150 odd (bad).
  EventCounts counts = counter.counts(t0_ + seconds(599));
  EXPECT_EQ(counts.good, 150u);
  EXPECT_EQ(counts.bad, 150u);
  // One second later bucket 300 (good) is out.
  counts = counter.counts(t0_ + seconds(600));
  EXPECT_EQ(counts.good, 149u);
  EXPECT_EQ(counts.bad, 150u);
}

TEST_F(WindowCounterTest, TimeGoingBackwardsCountsInTheNewestBucket) {
  WindowCounter counter(minutes(5), t0_);
  counter.add(t0_ + seconds(10), true);
  counter.add(t0_ + seconds(5), false);  // earlier than the newest bucket
  EXPECT_EQ(counter.counts(t0_ + seconds(5)).total(), 2u);
  EXPECT_EQ(counter.counts(t0_ + seconds(10)).total(), 2u);
  // Both sit in bucket 10, so both leave together.
  EXPECT_EQ(counter.counts(t0_ + seconds(309)).total(), 2u);
  EXPECT_EQ(counter.counts(t0_ + seconds(310)).total(), 0u);
}

TEST_F(WindowCounterTest, TimeBeforeTheOriginIsTheFirstBucket) {
  WindowCounter counter(minutes(5), t0_);
  counter.add(t0_ - hours(1), true);
  EXPECT_EQ(counter.counts(t0_ - hours(2)).good, 1u);
  EXPECT_EQ(counter.counts(t0_ + seconds(299)).good, 1u);
  EXPECT_EQ(counter.counts(t0_ + seconds(300)).good, 0u);
}

}  // namespace
}  // namespace chaosd
