#include "config/config.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <utility>

#include "config/toml_reader.h"

namespace chaosd {
namespace {

std::string error_text(const SourceLocation& where, const std::string& key_path,
                       const std::string& message) {
  std::string text = where.to_string() + ": ";
  if (!key_path.empty()) text += key_path + ": ";
  return text + message;
}

struct Operator {
  std::string_view text;
  Comparison op;
};

// Two-character operators first so that "<=" is not read as "<" followed by "=0.5".
constexpr Operator kOperators[] = {
    {"<=", Comparison::less_equal}, {">=", Comparison::greater_equal}, {"==", Comparison::equal},
    {"!=", Comparison::not_equal},  {"<", Comparison::less},           {">", Comparison::greater},
};

std::string_view trim(std::string_view text) {
  auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

}  // namespace

std::string SourceLocation::to_string() const {
  std::string text = file.empty() ? "<config>" : file;
  // Line 0 means "no position known" (e.g. an unreadable file): say nothing rather than ":0:0".
  if (line > 0) text += ":" + std::to_string(line) + ":" + std::to_string(column);
  return text;
}

ConfigError::ConfigError(SourceLocation where, std::string key_path, std::string message)
    : std::runtime_error(error_text(where, key_path, message)),
      where_(std::move(where)),
      key_path_(std::move(key_path)),
      message_(std::move(message)) {}

bool DailyWindow::contains(std::chrono::system_clock::time_point when) const {
  auto since_midnight = when.time_since_epoch() % std::chrono::hours(24);
  int minute =
      static_cast<int>(std::chrono::duration_cast<std::chrono::minutes>(since_midnight).count());
  if (start_minute < end_minute) return minute >= start_minute && minute < end_minute;
  return minute >= start_minute || minute < end_minute;  // across midnight
}

std::chrono::system_clock::time_point DailyWindow::opened_at(
    std::chrono::system_clock::time_point when) const {
  const auto midnight = when - when.time_since_epoch() % std::chrono::hours(24);
  auto opened = midnight + std::chrono::minutes(start_minute);
  if (opened > when) opened -= std::chrono::hours(24);  // a window across midnight, after it
  return opened;
}

std::string DailyWindow::to_string() const {
  char text[48];  // room for any int, so GCC sees no truncation
  std::snprintf(text, sizeof(text), "%02d:%02d-%02d:%02d", start_minute / 60, start_minute % 60,
                end_minute / 60, end_minute % 60);
  return text;
}

std::optional<DailyWindow> parse_daily_window(std::string_view text) {
  auto minute_of = [](std::string_view hhmm) -> std::optional<int> {
    if (hhmm.size() != 5 || hhmm[2] != ':') return std::nullopt;
    for (size_t i : {0, 1, 3, 4}) {
      if (hhmm[i] < '0' || hhmm[i] > '9') return std::nullopt;
    }
    int hours = (hhmm[0] - '0') * 10 + (hhmm[1] - '0');
    int minutes = (hhmm[3] - '0') * 10 + (hhmm[4] - '0');
    if (hours > 23 || minutes > 59) return std::nullopt;
    return hours * 60 + minutes;
  };
  if (text.size() != 11 || text[5] != '-') return std::nullopt;
  auto start = minute_of(text.substr(0, 5));
  auto end = minute_of(text.substr(6));
  if (!start || !end || *start == *end) return std::nullopt;
  return DailyWindow{*start, *end};
}

bool Threshold::holds(double measured) const {
  switch (op) {
    case Comparison::less:
      return measured < value;
    case Comparison::less_equal:
      return measured <= value;
    case Comparison::greater:
      return measured > value;
    case Comparison::greater_equal:
      return measured >= value;
    case Comparison::equal:
      return measured == value;
    case Comparison::not_equal:
      return measured != value;
  }
  return false;
}

std::string Threshold::to_string() const {
  for (const Operator& candidate : kOperators) {
    if (candidate.op == op) return std::string(candidate.text) + " " + format_number(value);
  }
  return "? " + format_number(value);
}

std::optional<Threshold> parse_threshold(std::string_view text) {
  text = trim(text);
  const Operator* found = nullptr;
  for (const Operator& candidate : kOperators) {
    if (text.starts_with(candidate.text)) {
      found = &candidate;
      break;
    }
  }
  if (found == nullptr) return std::nullopt;
  std::string_view number = trim(text.substr(found->text.size()));
  if (number.empty()) return std::nullopt;
  double value = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  // The whole rest must be the number; "inf"/"nan" would make every event good or bad forever.
  if (ec != std::errc() || end != number.data() + number.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return Threshold{found->op, value};
}

const TargetConfig* Config::find_target(std::string_view name) const {
  auto it = std::find_if(targets.begin(), targets.end(),
                         [&](const TargetConfig& target) { return target.name == name; });
  return it == targets.end() ? nullptr : &*it;
}

TargetConfig* Config::find_target(std::string_view name) {
  return const_cast<TargetConfig*>(std::as_const(*this).find_target(name));
}

const char* to_string(TargetKind kind) {
  switch (kind) {
    case TargetKind::standalone:
      return "standalone";
    case TargetKind::replicated:
      return "replicated";
    case TargetKind::cluster:
      return "cluster";
    case TargetKind::regions:
      return "regions";
  }
  return "standalone";
}

std::string NodeAddress::to_string() const {
  std::string port_text = std::to_string(port);
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + port_text;
  return host + ":" + port_text;
}

const ProbeConfig* Config::find_probe(std::string_view name) const {
  auto it = std::find_if(probes.begin(), probes.end(),
                         [&](const ProbeConfig& probe) { return probe.name == name; });
  return it == probes.end() ? nullptr : &*it;
}

}  // namespace chaosd
