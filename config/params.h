#pragma once
// Typed access to a probe's (or later a fault's) `params` table, used by factories to validate
// params next to the code that uses them. Every getter checks the type and range and remembers the
// key; finish() rejects any key nobody asked for, so a typo is an error and not silently ignored.

#include <toml++/toml.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace chaosd {

/// "8mb" -> 8388608: a non-negative integer with an optional unit b, kb, mb, gb (case-insensitive,
/// powers of 1024 as in redis.conf). nullopt when malformed or over int64.
std::optional<int64_t> parse_byte_size(std::string_view text);

class ParamReader {
 public:
  /// `key_path` is the path of the params table itself, e.g. "probes[1].params".
  ParamReader(const toml::table& params, std::string key_path, std::string file);

  int64_t get_int(std::string_view key, int64_t fallback, int64_t min, int64_t max);
  double get_double(std::string_view key, double fallback, double min, double max);
  bool get_bool(std::string_view key, bool fallback);
  std::string get_string(std::string_view key, std::string fallback,
                         const std::vector<std::string>& allowed = {});
  Duration get_duration(std::string_view key, Duration fallback, Duration min, Duration max);
  /// An array of integers ([1024, 16384]), each within [min, max], with 1..max_items elements.
  std::vector<int64_t> get_int_list(std::string_view key, std::vector<int64_t> fallback,
                                    int64_t min, int64_t max, size_t max_items);
  /// A size in bytes: an integer, or a string with a unit ("512kb", "8mb", "1gb"; powers of 1024
  /// like Redis' own config), within [min, max].
  int64_t get_bytes(std::string_view key, int64_t fallback, int64_t min, int64_t max);
  /// Throws ConfigError naming the first key that no getter asked for.
  void finish() const;

 private:
  [[noreturn]] void fail(const toml::node* node, std::string_view key,
                         const std::string& msg) const;
  const toml::table& params_;
  std::string key_path_;
  std::string file_;
  std::set<std::string, std::less<>> used_;
};

}  // namespace chaosd
