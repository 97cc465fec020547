#include "config/duration.h"

#include <cctype>
#include <cstdint>
#include <limits>

namespace chaosd {
namespace {

struct Unit {
  std::string_view suffix;
  int64_t nanoseconds;
};

// Longest suffix first so that "ms" is not read as "m" followed by junk.
constexpr Unit kUnits[] = {
    {"ns", 1},
    {"us", 1'000},
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60LL * 1'000'000'000},
    {"h", 3600LL * 1'000'000'000},
    {"d", 86400LL * 1'000'000'000},
};

}  // namespace

std::optional<Duration> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t total = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    // Integer part, then an optional fraction ("1.5s").
    size_t start = pos;
    int64_t whole = 0;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      if (whole > std::numeric_limits<int64_t>::max() / 10) return std::nullopt;
      whole = whole * 10 + (text[pos] - '0');
      ++pos;
    }
    double fraction = 0;
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      double scale = 0.1;
      size_t fraction_start = pos;
      while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
        fraction += (text[pos] - '0') * scale;
        scale /= 10;
        ++pos;
      }
      if (pos == fraction_start) return std::nullopt;
    }
    if (pos == start) return std::nullopt;  // no number where one must be
    const Unit* unit = nullptr;
    for (const Unit& candidate : kUnits) {
      if (text.substr(pos, candidate.suffix.size()) == candidate.suffix &&
          (unit == nullptr || candidate.suffix.size() > unit->suffix.size())) {
        unit = &candidate;
      }
    }
    if (unit == nullptr) return std::nullopt;  // a bare number has no unit: refuse to guess
    pos += unit->suffix.size();
    if (whole > std::numeric_limits<int64_t>::max() / unit->nanoseconds) return std::nullopt;
    int64_t part = whole * unit->nanoseconds + static_cast<int64_t>(fraction * unit->nanoseconds);
    if (total > std::numeric_limits<int64_t>::max() - part) return std::nullopt;
    total += part;
  }
  return Duration(total);
}

std::string format_duration(Duration d) {
  int64_t ns = d.count();
  if (ns == 0) return "0s";
  std::string out;
  if (ns < 0) {
    out = "-";
    ns = -ns;
  }
  // Whole days/hours/minutes/seconds when exact; otherwise the finest unit that is exact.
  if (ns % 1'000'000'000 == 0) {
    int64_t s = ns / 1'000'000'000;
    const std::pair<int64_t, const char*> parts[] = {
        {86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
    for (auto [size, name] : parts) {
      if (s >= size) {
        out += std::to_string(s / size) + name;
        s %= size;
      }
    }
    return out;
  }
  if (ns % 1'000'000 == 0) return out + std::to_string(ns / 1'000'000) + "ms";
  if (ns % 1'000 == 0) return out + std::to_string(ns / 1'000) + "us";
  return out + std::to_string(ns) + "ns";
}

}  // namespace chaosd
