#include "config/duration.h"

#include <gtest/gtest.h>

namespace chaosd {
namespace {

using namespace std::chrono_literals;

TEST(ParseDuration, ReadsEveryUnit) {
  EXPECT_EQ(parse_duration("7ns"), Duration(7));
  EXPECT_EQ(parse_duration("500us"), 500us);
  EXPECT_EQ(parse_duration("250ms"), 250ms);
  EXPECT_EQ(parse_duration("5s"), 5s);
  EXPECT_EQ(parse_duration("1m"), 1min);
  EXPECT_EQ(parse_duration("2h"), 2h);
  EXPECT_EQ(parse_duration("1d"), 24h);
}

TEST(ParseDuration, ReadsConcatenationsAndFractions) {
  EXPECT_EQ(parse_duration("1m30s"), 90s);
  EXPECT_EQ(parse_duration("1d2h3m4s"), 24h + 2h + 3min + 4s);
  EXPECT_EQ(parse_duration("1.5s"), 1500ms);
  EXPECT_EQ(parse_duration("0s"), 0s);
}

TEST(ParseDuration, RejectsMalformedText) {
  for (const char* text :
       {"", "5", "5x", "s", "ms", "-5s", "5 s", " 5s", "5s ", "1.s", "5S", "1m30", "5s!"}) {
    EXPECT_EQ(parse_duration(text), std::nullopt) << text;
  }
}

TEST(ParseDuration, RejectsOverflow) {
  // int64 nanoseconds end after ~292 years (106751 days).
  EXPECT_NE(parse_duration("106751d"), std::nullopt);
  EXPECT_EQ(parse_duration("106752d"), std::nullopt);
  EXPECT_EQ(parse_duration("99999999999999999999s"), std::nullopt);
  EXPECT_EQ(parse_duration("106751d106751d"), std::nullopt);
}

TEST(FormatDuration, PicksExactSpellings) {
  EXPECT_EQ(format_duration(0s), "0s");
  EXPECT_EQ(format_duration(1500ms), "1500ms");
  EXPECT_EQ(format_duration(90s), "1m30s");
  EXPECT_EQ(format_duration(24h * 30), "30d");
  EXPECT_EQ(format_duration(250us), "250us");
  EXPECT_EQ(format_duration(Duration(7)), "7ns");
}

TEST(FormatDuration, RoundTripsThroughParse) {
  for (Duration d : {Duration(1), Duration(1001), Duration(250us), Duration(1500ms), Duration(90s),
                     Duration(26h + 3min + 4s), Duration(24h * 30), Duration(Duration::max())}) {
    EXPECT_EQ(parse_duration(format_duration(d)), d) << format_duration(d);
  }
}

}  // namespace
}  // namespace chaosd
