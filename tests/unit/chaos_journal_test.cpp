// The fault journal: JSON lines, a torn last line tolerated, pending = injected and not reverted.

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <fstream>
#include <sstream>

#include "chaos/journal.h"
#include "tests/support/temp_dir.h"

namespace chaosd {
namespace {

JournalEntry make_entry(const std::string& id, JournalEvent event) {
  JournalEntry e;
  e.event = event;
  e.id = id;
  e.time = WallTime{std::chrono::seconds(1'800'000'000)};
  e.deadline = e.time + std::chrono::seconds(30);
  e.type = "memory_pressure";
  e.target = "main";
  e.node = "127.0.0.1:6379";
  e.params = {{"maxmemory_bytes", 8388608}};
  e.state = {{"original_maxmemory", "0"}, {"original_policy", "noeviction"}};
  return e;
}

std::string line(const JournalEntry& e) { return e.to_json().dump() + "\n"; }

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ChaosJournal, EntryRoundTripsThroughJson) {
  auto e = make_entry("f-1", JournalEvent::injected);
  e.experiment = "nightly";
  e.reason = "deadline";
  auto back = JournalEntry::from_json(e.to_json());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->id, "f-1");
  EXPECT_EQ(back->event, JournalEvent::injected);
  EXPECT_EQ(back->time, e.time);
  EXPECT_EQ(back->deadline, e.deadline);
  EXPECT_EQ(back->params, e.params);
  EXPECT_EQ(back->state, e.state);
  EXPECT_EQ(back->experiment, "nightly");
  EXPECT_EQ(back->fault_record()["state"]["original_maxmemory"], "0");
}

TEST(ChaosJournal, TornLastLineIsIgnored) {
  std::string whole = line(make_entry("f-1", JournalEvent::injected));
  std::string torn = line(make_entry("f-2", JournalEvent::injected));
  torn.resize(torn.size() / 2);  // a crash in the middle of write()
  auto parsed = parse_journal(whole + torn);
  ASSERT_EQ(parsed.entries.size(), 1u);
  EXPECT_EQ(parsed.entries[0].id, "f-1");
  EXPECT_TRUE(parsed.torn_tail);
  EXPECT_EQ(parsed.valid_bytes, whole.size());
  EXPECT_TRUE(parsed.errors.empty());
}

TEST(ChaosJournal, WholeLastRecordWithoutNewlineIsKept) {
  std::string text = line(make_entry("f-1", JournalEvent::injected));
  text.pop_back();
  auto parsed = parse_journal(text);
  ASSERT_EQ(parsed.entries.size(), 1u);
  EXPECT_FALSE(parsed.torn_tail);
}

TEST(ChaosJournal, BadCompleteLineIsReportedAndSkipped) {
  std::string text = line(make_entry("f-1", JournalEvent::injected)) + "{not json}\n" +
                     "{\"v\":1,\"event\":\"exploded\"}\n" +
                     line(make_entry("f-2", JournalEvent::injected));
  auto parsed = parse_journal(text);
  EXPECT_EQ(parsed.entries.size(), 2u);
  ASSERT_EQ(parsed.errors.size(), 2u);
  EXPECT_NE(parsed.errors[0].find("line 2"), std::string::npos) << parsed.errors[0];
  EXPECT_NE(parsed.errors[1].find("line 3"), std::string::npos) << parsed.errors[1];
  EXPECT_FALSE(parsed.torn_tail);
}

TEST(ChaosJournal, PendingIsInjectedAndNotReverted) {
  std::vector<JournalEntry> entries = {
      make_entry("a", JournalEvent::injecting), make_entry("a", JournalEvent::injected),
      make_entry("b", JournalEvent::injecting), make_entry("c", JournalEvent::injected),
      make_entry("a", JournalEvent::reverted),  make_entry("c", JournalEvent::revert_failed),
      make_entry("d", JournalEvent::injected),  make_entry("d", JournalEvent::reverted),
  };
  auto pending = pending_faults(entries);
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[0].id, "b");  // injecting only: a crash mid-inject must still be reverted
  EXPECT_EQ(pending[0].event, JournalEvent::injecting);
  EXPECT_EQ(pending[1].id, "c");
  EXPECT_EQ(pending[1].event, JournalEvent::revert_failed);
}

TEST(ChaosJournal, FileSurvivesReopenAndCutsATornTail) {
  test::TempDir dir("chaos-journal");
  {
    auto journal = FaultJournal::open(dir.path());
    ASSERT_TRUE(journal) << journal.error().message;
    ASSERT_TRUE(journal.value()->append(make_entry("f-1", JournalEvent::injected)));
    ASSERT_TRUE(journal.value()->append(make_entry("f-2", JournalEvent::injected)));
    ASSERT_TRUE(journal.value()->append(make_entry("f-2", JournalEvent::reverted)));
  }
  const auto path = dir.path() / "chaos" / "faults.jsonl";
  std::string torn = line(make_entry("f-3", JournalEvent::injected));
  {
    std::ofstream out(path, std::ios::app | std::ios::binary);
    out << torn.substr(0, 40);
  }
  auto journal = FaultJournal::open(dir.path());
  ASSERT_TRUE(journal) << journal.error().message;
  EXPECT_EQ(journal.value()->entries().size(), 3u);
  ASSERT_EQ(journal.value()->warnings().size(), 1u);
  EXPECT_NE(journal.value()->warnings()[0].find("torn"), std::string::npos);
  auto pending = journal.value()->pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].id, "f-1");
  // The next record starts on a clean line.
  ASSERT_TRUE(journal.value()->append(make_entry("f-1", JournalEvent::reverted)));
  auto parsed = parse_journal(read_file(path));
  EXPECT_EQ(parsed.entries.size(), 4u);
  EXPECT_TRUE(parsed.errors.empty());
  EXPECT_FALSE(parsed.torn_tail);
  EXPECT_TRUE(journal.value()->pending().empty());
}

// A write that fails halfway (here: the file size limit, as a full disk would) must not leave a
// partial line that glues itself to the next record: both would be lost at the next start.
TEST(ChaosJournal, FailedWriteIsCutBackAndTheNextRecordIsWhole) {
  test::TempDir dir("chaos-journal");
  auto journal = FaultJournal::open(dir.path());
  ASSERT_TRUE(journal) << journal.error().message;
  ASSERT_TRUE(journal.value()->append(make_entry("f-1", JournalEvent::injected)));
  const auto path = dir.path() / "chaos" / "faults.jsonl";
  const auto size_before = std::filesystem::file_size(path);

  struct rlimit saved {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  auto previous_handler = std::signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of a signal
  struct rlimit tight = saved;
  tight.rlim_cur = size_before + 20;  // room for 20 bytes of the next line, not all of it
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &tight), 0);
  auto failed = journal.value()->append(make_entry("f-2", JournalEvent::injected));
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &saved), 0);
  std::signal(SIGXFSZ, previous_handler);

  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().message.find("cannot write"), std::string::npos)
      << failed.error().message;
  EXPECT_EQ(std::filesystem::file_size(path), size_before) << "the partial line was not cut";
  EXPECT_EQ(journal.value()->entries().size(), 1u);

  ASSERT_TRUE(journal.value()->append(make_entry("f-3", JournalEvent::injected)));
  auto parsed = parse_journal(read_file(path));
  EXPECT_TRUE(parsed.errors.empty());
  EXPECT_FALSE(parsed.torn_tail);
  ASSERT_EQ(parsed.entries.size(), 2u);
  EXPECT_EQ(parsed.entries[1].id, "f-3");
}

TEST(ChaosJournal, SecondOpenOfOneStateDirIsRefused) {
  test::TempDir dir("chaos-journal");
  auto first = FaultJournal::open(dir.path());
  ASSERT_TRUE(first) << first.error().message;
  auto second = FaultJournal::open(dir.path());
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::conflict);
}

TEST(ChaosJournal, CompactOnlyWhenNothingIsPending) {
  test::TempDir dir("chaos-journal");
  auto journal = FaultJournal::open(dir.path());
  ASSERT_TRUE(journal);
  ASSERT_TRUE(journal.value()->append(make_entry("f-1", JournalEvent::injected)));
  EXPECT_FALSE(journal.value()->compact());
  ASSERT_TRUE(journal.value()->append(make_entry("f-1", JournalEvent::reverted)));
  ASSERT_TRUE(journal.value()->compact());
  EXPECT_EQ(read_file(journal.value()->path()), "");
  ASSERT_TRUE(journal.value()->append(make_entry("f-2", JournalEvent::injected)));
  EXPECT_EQ(parse_journal(read_file(journal.value()->path())).entries.size(), 1u);
}

}  // namespace
}  // namespace chaosd
