#pragma once
// Durations in config files are strings with a unit ("250ms", "5s", "1m30s"); internally they are
// std::chrono types, never bare integers.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace chaosd {

using Duration = std::chrono::nanoseconds;

/// Parses "500us", "250ms", "5s", "1m", "2h", "1d" and concatenations like "1m30s".
/// Returns nullopt for anything else (empty, no unit, unknown unit, negative, overflow).
std::optional<Duration> parse_duration(std::string_view text);

/// An exact spelling that parse_duration() reads back: 1500ms -> "1500ms", 90s -> "1m30s".
std::string format_duration(Duration d);

/// Seconds as a double, for metrics and JSON.
inline double to_seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace chaosd
