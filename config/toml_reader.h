#pragma once
// Typed reads out of parsed TOML for the config loader and ParamReader. Every mistake becomes a
// ConfigError with file:line:col, the key path and what to do, so the loader itself reads like a
// schema. Unknown keys are errors (userver-style strict schemas): a reader remembers every key it
// was asked for and finish() rejects the rest.

#include <toml++/toml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace chaosd {

/// Position of a node or key; line/column stay 0 when toml++ has none (it drops them on copy).
SourceLocation location_of(const toml::source_region& region, const std::string& file);

/// "string", "integer", "float", ... as a user writes TOML.
std::string_view toml_type_name(const toml::node& node);

/// `"text"`, for echoing a user's value in a message.
std::string in_quotes(std::string_view text);

/// The shortest spelling that reads back as the same double: 0.999, not 0.99899999999999999.
std::string format_number(double value);

/// "a, b, c".
std::string join_names(const std::vector<std::string>& names);

/// "daemon" + "listen" -> "daemon.listen"; "" + "daemon" -> "daemon".
std::string child_path(std::string_view parent, std::string_view key);

/// The known name closest to a misspelt one, or empty when none is plausibly meant.
std::string closest_name(std::string_view wrong, const std::vector<std::string>& known);

// Free-standing readers of one node; `path` names the node in messages. They throw ConfigError.
[[noreturn]] void fail_at(const toml::source_region& region, const std::string& file,
                          std::string path, std::string message);
[[noreturn]] void fail_type(const toml::node& node, const std::string& file, std::string path,
                            std::string_view expected);
std::string read_string(const toml::node& node, const std::string& file, const std::string& path);
std::string read_choice(const toml::node& node, const std::string& file, const std::string& path,
                        const std::vector<std::string>& allowed);
int64_t read_int(const toml::node& node, const std::string& file, const std::string& path,
                 int64_t min, int64_t max);
/// Accepts integers too: `ratio = 1` means 1.0 to anyone writing a config.
double read_double(const toml::node& node, const std::string& file, const std::string& path,
                   double min, double max);
bool read_bool(const toml::node& node, const std::string& file, const std::string& path);
/// A string like "5s" (see parse_duration) within [min, max]; min <= 1ns reads as "> 0".
Duration read_duration(const toml::node& node, const std::string& file, const std::string& path,
                       Duration min, Duration max);

/// Reads one TOML table of the config schema. Not thread-safe; lives for one load.
class TableReader {
 public:
  /// `table` is mutable only so that take_table() can move sub-tables out with their positions.
  TableReader(toml::table& table, std::string key_path, std::string file);

  const std::string& key_path() const { return key_path_; }
  const std::string& file() const { return file_; }
  std::string path_of(std::string_view key) const { return child_path(key_path_, key); }
  SourceLocation where() const { return location_of(table_->source(), file_); }

  /// Position of the node under `key`, or of the table when the key is absent.
  SourceLocation where_of(std::string_view key) const;

  /// Declares the table's whole schema and rejects unknown keys at once, so that a misspelt key
  /// is reported as such rather than as the required key it was meant to be.
  void expect_only(std::initializer_list<std::string_view> keys);

  /// The node under `key` or null; asking makes `key` known to finish().
  toml::node* find(std::string_view key);

  std::optional<std::string> get_string(std::string_view key);
  std::optional<std::string> get_choice(std::string_view key,
                                        const std::vector<std::string>& allowed);
  std::optional<int64_t> get_int(std::string_view key, int64_t min, int64_t max);
  /// An integer or a float, within [min, max].
  std::optional<double> get_double(std::string_view key, double min, double max);
  std::optional<bool> get_bool(std::string_view key);
  std::optional<Duration> get_duration(std::string_view key, Duration min, Duration max);

  /// An array of strings (["a", "b"]); nullopt when absent.
  std::optional<std::vector<std::string>> get_string_array(std::string_view key);

  /// Like get_string() but a missing key is an error at the table; `example` shows a fix.
  std::string require_string(std::string_view key, std::string_view example);

  /// A sub-table ([daemon]); null when absent.
  std::optional<TableReader> get_table(std::string_view key);
  /// An array of tables ([[targets]]); empty when absent. Elements are named "key[i]".
  std::vector<TableReader> get_table_array(std::string_view key);
  /// Moves a sub-table out: toml++ drops source positions on copy but keeps them on move.
  std::optional<toml::table> take_table(std::string_view key);

  /// Throws for the first key that no getter asked for, listing the known ones.
  void finish() const;

  /// Errors at the node under `key` when present, else at the table itself.
  [[noreturn]] void fail(std::string_view key, std::string message) const;
  [[noreturn]] void fail_missing(std::string_view key, std::string_view hint) const;

 private:
  toml::table* table_;  // a pointer, not a reference, so that readers can live in vectors
  std::string key_path_;
  std::string file_;
  std::vector<std::string> known_;
};

}  // namespace chaosd
