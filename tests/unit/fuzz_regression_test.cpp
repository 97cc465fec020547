// Inputs the fuzzers (tests/fuzz, docs/reliability.md) found to crash or trip UBSan, kept as
// tests of the fix. Each also sits in the fuzzer's seed corpus (tests/fuzz/corpus/).

#include <gtest/gtest.h>

#include <string>

#include "chaos/journal.h"
#include "chaos/registry.h"

namespace chaosd {
namespace {

// http_body_fuzzer: a journal time in ms beyond WallTime's nanosecond range overflowed int64 in
// the duration_cast (signed overflow, UB).
TEST(FuzzRegression, JournalTimeOutOfRangeIsAnErrorNotAnOverflow) {
  const std::string record =
      R"({"v":1,"event":"injected","id":"f-1","time_unix_ms":176404021600000,)"
      R"("type":"memory_pressure","target":"main","node":"127.0.0.1:6379","experiment":"",)"
      R"("deadline_unix_ms":1764021660000,"params":{},"state":{}})";
  ParsedJournal parsed = parse_journal(record + "\n");
  EXPECT_TRUE(parsed.entries.empty());
  ASSERT_EQ(parsed.errors.size(), 1u);
  EXPECT_NE(parsed.errors[0].find("time_unix_ms"), std::string::npos) << parsed.errors[0];

  for (const char* deadline : {"1e300", "-9223372036854775808", "1.5"}) {
    std::string line = record;
    line.replace(line.find("176404021600000"), 15, "1764021600000");
    line.replace(line.find("1764021660000"), 13, deadline);
    ParsedJournal bad = parse_journal(line + "\n");
    EXPECT_TRUE(bad.entries.empty()) << deadline;
    EXPECT_EQ(bad.errors.size(), 1u) << deadline;
  }
  std::string good = record;
  good.replace(good.find("176404021600000"), 15, "1764021600000");
  EXPECT_EQ(parse_journal(good + "\n").entries.size(), 1u);
}

// A float where the journal version belongs was cast to int (UB beyond int's range).
TEST(FuzzRegression, JournalVersionMustBeTheInteger1) {
  for (const char* version : {"1e300", "1.0", "\"1\"", "2"}) {
    const std::string line = std::string(R"({"v":)") + version +
                             R"(,"event":"injected","id":"f-1","time_unix_ms":1,"type":"t",)"
                             R"("target":"m","node":"n","deadline_unix_ms":2,"params":{},)"
                             R"("state":{}})"
                             "\n";
    ParsedJournal parsed = parse_journal(line);
    EXPECT_TRUE(parsed.entries.empty()) << version;
    EXPECT_EQ(parsed.errors.size(), 1u) << version;
  }
}

// http_body_fuzzer: memory_pressure's restore read 1e300 with get<int64_t>() (float-cast UB).
TEST(FuzzRegression, FaultRecordWithAnOutOfRangeNumberIsRefused) {
  auto record = nlohmann::json::parse(
      R"({"type":"memory_pressure","params":{"maxmemory_bytes":1e300,"policy":"",)"
      R"("fill_ratio":0.5},"state":{}})");
  auto restored = restore_fault(record);
  ASSERT_FALSE(restored.ok());
  EXPECT_EQ(restored.error().code, ErrorCode::invalid_argument);
  EXPECT_NE(restored.error().message.find("out of range"), std::string::npos);

  nlohmann::json deep = nlohmann::json::array();
  for (int i = 0; i < 100; ++i) deep = nlohmann::json::array({deep});
  auto nested = restore_fault(
      {{"type", "node_pause"}, {"params", {{"mode", "all"}}}, {"state", {{"x", deep}}}});
  EXPECT_FALSE(nested.ok());
}

}  // namespace
}  // namespace chaosd
