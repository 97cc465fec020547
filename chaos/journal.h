#pragma once
// The fault journal: a crash-safe log of every fault's life, one JSON object per line in
// <state_dir>/chaos/faults.jsonl, so that a fault left behind by a crashed daemon (even SIGKILL)
// is found and reverted at the next start (FaultSupervisor::reconcile).
//
//   {"v":1,"event":"injected","id":"f-1764000000000-1a2b3c4d","time":"2026-11-24T22:00:00.000Z",
//    "type":"memory_pressure","target":"main","node":"127.0.0.1:6379","experiment":"",
//    "deadline":"2026-11-24T22:01:00.000Z","deadline_unix_ms":1764000060000,
//    "params":{...},"state":{"original_maxmemory":"0",...},"reason":"","error":""}
//
// Events: "injecting" (written before the fault touches anything, with the state revert needs),
// "injected", "reverted", "revert_failed" (the revert is retried; the fault stays pending).
// A fault is pending while its last event is not "reverted".
//
// Every append is one write(2) of the whole line followed by fdatasync; the file and the
// directory are fsynced when created. A torn last line (a crash mid-write) is ignored and cut off
// before the next append. An flock on the file keeps two daemons from sharing one state_dir.
//
// Thread-safety: none; use from one thread (the loop).

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/util/clock.h"
#include "daemon/util/result.h"

namespace chaosd {

enum class JournalEvent { injecting, injected, reverted, revert_failed };
const char* to_string(JournalEvent event);
std::optional<JournalEvent> parse_journal_event(std::string_view text);

struct JournalEntry {
  JournalEvent event = JournalEvent::injecting;
  std::string id;
  WallTime time{};
  std::string type;
  std::string target;
  std::string node;
  std::string experiment;
  WallTime deadline{};
  nlohmann::json params = nlohmann::json::object();
  nlohmann::json state = nlohmann::json::object();
  std::string reason;  // why it was reverted: "deadline", "halt: <why>", "manual", "reconcile"
  std::string error;   // revert_failed / injection errors

  nlohmann::json to_json() const;
  static Result<JournalEntry> from_json(const nlohmann::json& json);
  /// {"type","params","state"}: what restore_fault() reads.
  nlohmann::json fault_record() const;
};

struct ParsedJournal {
  std::vector<JournalEntry> entries;
  /// Bytes of the text that hold whole, valid lines; a torn tail starts here.
  size_t valid_bytes = 0;
  bool torn_tail = false;           // the last line had no newline and did not parse
  std::vector<std::string> errors;  // complete lines that did not parse ("line 7: ...")
};

/// Parses journal text. Pure. A last line without '\n' that parses is kept (the write completed
/// but the newline did not); one that does not parse is a torn tail.
ParsedJournal parse_journal(std::string_view text);

/// The last entry of every fault whose last event is not "reverted", in order of first
/// appearance.
std::vector<JournalEntry> pending_faults(const std::vector<JournalEntry>& entries);

class FaultJournal {
 public:
  /// Opens (creating it and its directory, both fsynced) <state_dir>/chaos/faults.jsonl, reads
  /// it, cuts a torn tail, and takes an exclusive flock (ErrorCode::conflict if another process
  /// holds it).
  static Result<std::unique_ptr<FaultJournal>> open(const std::filesystem::path& state_dir);
  ~FaultJournal();
  FaultJournal(const FaultJournal&) = delete;
  FaultJournal& operator=(const FaultJournal&) = delete;

  /// Appends one record: write + fdatasync before it returns.
  Status append(const JournalEntry& entry);
  /// Faults injected (or injecting) and not reverted.
  std::vector<JournalEntry> pending() const { return pending_faults(entries_); }
  const std::vector<JournalEntry>& entries() const { return entries_; }
  const std::filesystem::path& path() const { return path_; }
  /// What open() found wrong in the file (torn tail, unparsable lines), for the log.
  const std::vector<std::string>& warnings() const { return warnings_; }
  /// When nothing is pending: truncates the file (ftruncate + fsync) and forgets the
  /// entries. ErrorCode::conflict when a fault is pending.
  Status compact();

 private:
  FaultJournal(std::filesystem::path path, int fd) : path_(std::move(path)), fd_(fd) {}

  std::filesystem::path path_;
  int fd_ = -1;
  std::vector<JournalEntry> entries_;
  std::vector<std::string> warnings_;
};

}  // namespace chaosd
