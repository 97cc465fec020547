#include <gtest/gtest.h>

#include "daemon/util/clock.h"

TEST(ManualClock, MovesOnlyWhenAdvanced) {
  chaosd::ManualClock clock;
  auto start = clock.steady_now();
  EXPECT_EQ(clock.steady_now(), start);
  clock.advance(std::chrono::milliseconds(1500));
  EXPECT_EQ(clock.steady_now() - start, std::chrono::milliseconds(1500));
}
