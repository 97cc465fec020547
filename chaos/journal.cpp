#include "chaos/journal.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <optional>

#include "daemon/util/time_format.h"

namespace chaosd {
namespace {

constexpr int kVersion = 1;

int64_t to_unix_ms(WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
// An integer field of a record read back from disk, nullopt if it is anything else: nlohmann's
// get<int64_t>() casts a float with static_cast (1e300 is undefined behaviour).
std::optional<int64_t> integer_field(const nlohmann::json& json, const char* key) {
  const nlohmann::json& value = json.at(key);
  if (!value.is_number_integer()) return std::nullopt;
  return value.get<int64_t>();
}
// WallTime counts nanoseconds in an int64 (years 1678..2262): a corrupt or hand-edited time
// outside that range is refused, not overflowed.
std::optional<WallTime> time_field(const nlohmann::json& json, const char* key) {
  constexpr int64_t kLimitMs =
      std::chrono::duration_cast<std::chrono::milliseconds>(WallTime::duration::max()).count();
  std::optional<int64_t> ms = integer_field(json, key);
  if (!ms || *ms < -kLimitMs || *ms > kLimitMs) return std::nullopt;
  return WallTime{std::chrono::duration_cast<WallTime::duration>(std::chrono::milliseconds(*ms))};
}

Error os_error(const std::string& what, const std::filesystem::path& path) {
  return Error{ErrorCode::internal, what + " " + path.string() + ": " + std::strerror(errno)};
}

Status fsync_dir(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return os_error("cannot open directory", dir);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return os_error("cannot fsync directory", dir);
  return Ok{};
}

Status write_all(int fd, std::string_view data, const std::filesystem::path& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return os_error("cannot write", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Ok{};
}

}  // namespace

const char* to_string(JournalEvent event) {
  switch (event) {
    case JournalEvent::injecting:
      return "injecting";
    case JournalEvent::injected:
      return "injected";
    case JournalEvent::reverted:
      return "reverted";
    case JournalEvent::revert_failed:
      return "revert_failed";
  }
  return "unknown";
}

std::optional<JournalEvent> parse_journal_event(std::string_view text) {
  for (auto e : {JournalEvent::injecting, JournalEvent::injected, JournalEvent::reverted,
                 JournalEvent::revert_failed}) {
    if (text == to_string(e)) return e;
  }
  return std::nullopt;
}

nlohmann::json JournalEntry::to_json() const {
  return {{"v", kVersion},
          {"event", chaosd::to_string(event)},
          {"id", id},
          {"time", iso8601(time)},
          {"time_unix_ms", to_unix_ms(time)},
          {"type", type},
          {"target", target},
          {"node", node},
          {"experiment", experiment},
          {"deadline", iso8601(deadline)},
          {"deadline_unix_ms", to_unix_ms(deadline)},
          {"params", params},
          {"state", state},
          {"reason", reason},
          {"error", error}};
}

Result<JournalEntry> JournalEntry::from_json(const nlohmann::json& json) {
  try {
    if (!json.is_object()) return Error{ErrorCode::invalid_argument, "not a JSON object"};
    if (integer_field(json, "v") != kVersion) {
      return Error{ErrorCode::invalid_argument,
                   "journal version " + json.at("v").dump() + " (this daemon reads 1)"};
    }
    JournalEntry e;
    auto event = parse_journal_event(json.at("event").get<std::string>());
    if (!event)
      return Error{ErrorCode::invalid_argument, "unknown event " + json.at("event").dump()};
    e.event = *event;
    e.id = json.at("id").get<std::string>();
    if (e.id.empty()) return Error{ErrorCode::invalid_argument, "empty id"};
    auto time = time_field(json, "time_unix_ms");
    if (!time) return Error{ErrorCode::invalid_argument, "time_unix_ms is not a time in ms"};
    e.time = *time;
    e.type = json.at("type").get<std::string>();
    e.target = json.at("target").get<std::string>();
    e.node = json.at("node").get<std::string>();
    e.experiment = json.value("experiment", "");
    auto deadline = time_field(json, "deadline_unix_ms");
    if (!deadline)
      return Error{ErrorCode::invalid_argument, "deadline_unix_ms is not a time in ms"};
    e.deadline = *deadline;
    e.params = json.at("params");
    e.state = json.at("state");
    e.reason = json.value("reason", "");
    e.error = json.value("error", "");
    return e;
  } catch (const nlohmann::json::exception& ex) {
    return Error{ErrorCode::invalid_argument, ex.what()};
  }
}

nlohmann::json JournalEntry::fault_record() const {
  return {{"type", type}, {"params", params}, {"state", state}};
}

ParsedJournal parse_journal(std::string_view text) {
  ParsedJournal out;
  size_t start = 0;
  int line_number = 0;
  while (start < text.size()) {
    ++line_number;
    size_t end = text.find('\n', start);
    bool complete = end != std::string_view::npos;
    std::string_view line = text.substr(start, complete ? end - start : std::string_view::npos);
    size_t next = complete ? end + 1 : text.size();
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) {
      if (complete) out.valid_bytes = next;
      start = next;
      continue;
    }
    auto json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    auto entry = json.is_discarded()
                     ? Result<JournalEntry>(Error{ErrorCode::invalid_argument, "not JSON"})
                     : JournalEntry::from_json(json);
    if (entry) {
      out.entries.push_back(std::move(entry.value()));
      out.valid_bytes = next;
    } else if (!complete) {
      out.torn_tail = true;  // a crash in the middle of the last write
    } else {
      out.errors.push_back("line " + std::to_string(line_number) + ": " + entry.error().message);
      out.valid_bytes = next;
    }
    start = next;
  }
  return out;
}

std::vector<JournalEntry> pending_faults(const std::vector<JournalEntry>& entries) {
  std::vector<std::string> order;
  std::map<std::string, const JournalEntry*> last;
  for (const auto& e : entries) {
    if (!last.contains(e.id)) order.push_back(e.id);
    last[e.id] = &e;
  }
  std::vector<JournalEntry> out;
  for (const auto& id : order) {
    const JournalEntry* e = last[id];
    if (e->event != JournalEvent::reverted) out.push_back(*e);
  }
  return out;
}

Result<std::unique_ptr<FaultJournal>> FaultJournal::open(const std::filesystem::path& state_dir) {
  const std::filesystem::path dir = state_dir / "chaos";
  const std::filesystem::path path = dir / "faults.jsonl";
  std::error_code ec;
  bool dir_existed = std::filesystem::exists(dir, ec);
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error{ErrorCode::internal, "cannot create " + dir.string() + ": " + ec.message()};
  if (!dir_existed) {
    auto synced = fsync_dir(dir);
    if (!synced) return synced.error();
    auto parent = fsync_dir(state_dir);
    if (!parent) return parent.error();
  }
  bool file_existed = std::filesystem::exists(path, ec);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return os_error("cannot open", path);
  std::unique_ptr<FaultJournal> journal(new FaultJournal(path, fd));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    return Error{ErrorCode::conflict, "the fault journal " + path.string() +
                                          " is locked by another redis-chaosd (one state_dir "
                                          "per daemon)"};
  }
  if (!file_existed) {
    if (::fsync(fd) != 0) return os_error("cannot fsync", path);
    auto synced = fsync_dir(dir);
    if (!synced) return synced.error();
  }
  std::string text;
  char buffer[64 * 1024];
  for (;;) {
    ssize_t n = ::pread(fd, buffer, sizeof(buffer), static_cast<off_t>(text.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      return os_error("cannot read", path);
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  ParsedJournal parsed = parse_journal(text);
  journal->entries_ = std::move(parsed.entries);
  for (auto& error : parsed.errors) journal->warnings_.push_back(path.string() + ": " + error);
  if (parsed.valid_bytes < text.size()) {
    journal->warnings_.push_back(path.string() + ": a torn last line (" +
                                 std::to_string(text.size() - parsed.valid_bytes) +
                                 " bytes, a crash mid-write) was cut off");
    if (::ftruncate(fd, static_cast<off_t>(parsed.valid_bytes)) != 0 || ::fsync(fd) != 0) {
      return os_error("cannot cut the torn tail of", path);
    }
  } else if (!text.empty() && text.back() != '\n') {
    // The last record is whole but its newline never made it: end the line before appending.
    auto ended = write_all(fd, "\n", path);
    if (!ended) return ended.error();
  }
  if (::lseek(fd, 0, SEEK_END) < 0) return os_error("cannot seek", path);
  return journal;
}

FaultJournal::~FaultJournal() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

Status FaultJournal::append(const JournalEntry& entry) {
  std::string line = entry.to_json().dump() + "\n";
  // O_APPEND is not set (ftruncate needs the plain offset): seek to the end each time.
  const off_t end = ::lseek(fd_, 0, SEEK_END);
  if (end < 0) return os_error("cannot seek", path_);
  Status written = write_all(fd_, line, path_);
  if (written && ::fdatasync(fd_) != 0) written = os_error("cannot fdatasync", path_);
  if (!written) {
    // Cut a partial line off again: the next record would otherwise be glued to it and both
    // lost at the next start (a torn line in the middle is not a torn tail).
    if (::ftruncate(fd_, end) != 0) {
      spdlog::error("fault journal {}: cannot cut a failed write back to {} bytes: {}",
                    path_.string(), static_cast<long long>(end), std::strerror(errno));
    }
    return written;
  }
  entries_.push_back(entry);
  return Ok{};
}

Status FaultJournal::compact() {
  if (!pending().empty()) {
    return Error{ErrorCode::conflict, "cannot compact the fault journal: faults are pending"};
  }
  if (::ftruncate(fd_, 0) != 0 || ::fsync(fd_) != 0) return os_error("cannot truncate", path_);
  entries_.clear();
  return Ok{};
}

}  // namespace chaosd
