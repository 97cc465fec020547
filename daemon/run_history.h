#pragma once
// The finished experiment runs, kept across restarts: one JSON object per line in
// <state_dir>/chaos/runs.jsonl. A run is appended when it ends; the file is rewritten down to the
// newest `keep` runs when it holds four times as many, so it stays small. A torn or bad line (a
// crash mid-write, a hand edit) is skipped with a warning, never fatal: history is not safety
// state (the fault journal is).
//
//   RunHistory history(state_dir / "chaos" / "runs.jsonl", 50);
//   for (const auto& run : history.load()) ...   // newest first
//   history.append(run_json);

#include <deque>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "daemon/util/result.h"

namespace chaosd {

class RunHistory {
 public:
  RunHistory(std::filesystem::path path, size_t keep) : path_(std::move(path)), keep_(keep) {}

  /// The newest `keep` runs, newest first; warnings() tells about skipped lines.
  std::vector<nlohmann::json> load();
  /// Appends one finished run (and compacts when the file has grown to 4 x keep lines).
  Status append(const nlohmann::json& run);
  const std::vector<std::string>& warnings() const { return warnings_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  Status rewrite(const std::deque<std::string>& lines);

  std::filesystem::path path_;
  size_t keep_;
  size_t lines_ = 0;  // lines in the file, as far as this object knows
  std::vector<std::string> warnings_;
};

}  // namespace chaosd
