#include "daemon/run_history.h"

#include <cstring>
#include <fstream>

namespace chaosd {

namespace {

Error file_error(const std::string& what, const std::filesystem::path& path) {
  return Error{ErrorCode::internal, what + " " + path.string() + ": " + std::strerror(errno)};
}

bool ends_with_newline(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in || in.tellg() <= 0) return true;  // missing or empty: nothing to end
  in.seekg(-1, std::ios::end);
  return in.get() == '\n';
}

}  // namespace

std::vector<nlohmann::json> RunHistory::load() {
  warnings_.clear();
  std::deque<nlohmann::json> runs;
  std::ifstream in(path_);
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    auto run = nlohmann::json::parse(line, nullptr, false);
    if (!run.is_object() || !run.contains("id")) {
      warnings_.push_back(path_.string() + ":" + std::to_string(number) +
                          ": not a run record, skipped");
      continue;
    }
    runs.push_front(std::move(run));
    if (runs.size() > keep_) runs.pop_back();
  }
  lines_ = number;
  return {runs.begin(), runs.end()};
}

Status RunHistory::append(const nlohmann::json& run) {
  std::error_code ignored;
  std::filesystem::create_directories(path_.parent_path(), ignored);
  if (lines_ + 1 >= 4 * keep_) {
    // Keep the newest keep_ - 1 lines plus this run.
    std::deque<std::string> lines;
    std::ifstream in(path_);
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      lines.push_back(std::move(line));
      if (lines.size() > keep_ - 1) lines.pop_front();
    }
    lines.push_back(run.dump());
    return rewrite(lines);
  }
  std::ofstream out(path_, std::ios::app);
  if (!ends_with_newline(path_)) out << '\n';  // a torn last line stays a line of its own
  out << run.dump() << '\n';
  out.flush();
  if (!out) return file_error("cannot append to", path_);
  ++lines_;
  return Ok{};
}

Status RunHistory::rewrite(const std::deque<std::string>& lines) {
  // A new file renamed over the old one: a crash leaves either the old or the new history.
  const std::filesystem::path fresh = path_.string() + ".new";
  {
    std::ofstream out(fresh, std::ios::trunc);
    for (const auto& line : lines) out << line << '\n';
    out.flush();
    if (!out) return file_error("cannot write", fresh);
  }
  std::error_code error;
  std::filesystem::rename(fresh, path_, error);
  if (error) {
    return Error{ErrorCode::internal, "cannot replace " + path_.string() + ": " + error.message()};
  }
  lines_ = lines.size();
  return Ok{};
}

}  // namespace chaosd
