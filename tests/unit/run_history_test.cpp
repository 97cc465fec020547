// The experiment run history file: newest first, bounded, compacted, tolerant of a torn line.

#include "daemon/run_history.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/support/temp_dir.h"

namespace chaosd {
namespace {

nlohmann::json run(int n) { return {{"id", "r-" + std::to_string(n)}, {"state", "succeeded"}}; }

size_t line_count(const std::filesystem::path& path) {
  std::ifstream in(path);
  size_t lines = 0;
  for (std::string line; std::getline(in, line);) lines += line.empty() ? 0 : 1;
  return lines;
}

TEST(RunHistory, KeepsRunsAcrossInstancesNewestFirst) {
  test::TempDir dir;
  const auto path = dir.path() / "chaos" / "runs.jsonl";
  {
    RunHistory history(path, 5);
    EXPECT_TRUE(history.load().empty());  // no file yet
    for (int i = 1; i <= 3; ++i) ASSERT_TRUE(history.append(run(i)));
  }
  RunHistory again(path, 5);
  auto runs = again.load();
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0]["id"], "r-3");
  EXPECT_EQ(runs[2]["id"], "r-1");
  EXPECT_TRUE(again.warnings().empty());
}

TEST(RunHistory, LoadIsBoundedAndTheFileIsCompacted) {
  test::TempDir dir;
  const auto path = dir.path() / "runs.jsonl";
  RunHistory history(path, 5);
  history.load();
  for (int i = 1; i <= 40; ++i) ASSERT_TRUE(history.append(run(i)));
  EXPECT_LE(line_count(path), 20u);  // rewritten down to 5 whenever it reached 4 x 5
  RunHistory reader(path, 5);
  auto runs = reader.load();
  ASSERT_EQ(runs.size(), 5u);
  EXPECT_EQ(runs[0]["id"], "r-40");
  EXPECT_EQ(runs[4]["id"], "r-36");
}

TEST(RunHistory, ATornOrBadLineIsSkippedAndTheNextRunStaysWhole) {
  test::TempDir dir;
  const auto path =
      dir.write("runs.jsonl", run(1).dump() + "\nnot json\n" + R"({"id": "r-2", "sta)");
  RunHistory history(path, 5);
  auto runs = history.load();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["id"], "r-1");
  EXPECT_EQ(history.warnings().size(), 2u);
  ASSERT_TRUE(history.append(run(3)));
  RunHistory reader(path, 5);
  auto after = reader.load();
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0]["id"], "r-3");
}

}  // namespace
}  // namespace chaosd
