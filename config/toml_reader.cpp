#include "config/toml_reader.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>

namespace chaosd {
namespace {

constexpr std::string_view kDurationExamples = R"((use e.g. "500ms", "5s", "1m"))";

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

bool before(const toml::source_position& a, const toml::source_position& b) {
  return std::pair(a.line, a.column) < std::pair(b.line, b.column);
}

}  // namespace

SourceLocation location_of(const toml::source_region& region, const std::string& file) {
  return SourceLocation{file, static_cast<int>(region.begin.line),
                        static_cast<int>(region.begin.column)};
}

std::string_view toml_type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "table";
    case toml::node_type::array:
      return "array";
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "float";
    case toml::node_type::boolean:
      return "boolean";
    case toml::node_type::date:
      return "date";
    case toml::node_type::time:
      return "time";
    case toml::node_type::date_time:
      return "date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

std::string in_quotes(std::string_view text) { return "\"" + std::string(text) + "\""; }

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

std::string child_path(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return std::string(parent) + "." + std::string(key);
}

std::string closest_name(std::string_view wrong, const std::vector<std::string>& known) {
  // A third of the letters wrong is still a typo; more is probably a different idea.
  size_t best_distance = std::max<size_t>(1, wrong.size() / 3) + 1;
  std::string best;
  for (const std::string& candidate : known) {
    size_t distance = edit_distance(wrong, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

std::string format_number(double value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  if (ec != std::errc()) return std::to_string(value);
  return std::string(buffer, end);
}

void fail_at(const toml::source_region& region, const std::string& file, std::string path,
             std::string message) {
  throw ConfigError(location_of(region, file), std::move(path), std::move(message));
}

void fail_type(const toml::node& node, const std::string& file, std::string path,
               std::string_view expected) {
  fail_at(node.source(), file, std::move(path),
          "expected " + std::string(expected) + ", got " + std::string(toml_type_name(node)));
}

std::string read_string(const toml::node& node, const std::string& file, const std::string& path) {
  if (const auto* value = node.as_string()) return value->get();
  fail_type(node, file, path, "a string");
}

std::string read_choice(const toml::node& node, const std::string& file, const std::string& path,
                        const std::vector<std::string>& allowed) {
  std::string value = read_string(node, file, path);
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return value;
  fail_at(node.source(), file, path,
          in_quotes(value) + " is not allowed here; use one of: " + join_names(allowed));
}

int64_t read_int(const toml::node& node, const std::string& file, const std::string& path,
                 int64_t min, int64_t max) {
  const auto* value = node.as_integer();
  if (value == nullptr) fail_type(node, file, path, "an integer");
  int64_t number = value->get();
  if (number < min || number > max) {
    fail_at(node.source(), file, path,
            std::to_string(number) + " is out of range (" + std::to_string(min) + ".." +
                std::to_string(max) + ")");
  }
  return number;
}

double read_double(const toml::node& node, const std::string& file, const std::string& path,
                   double min, double max) {
  double number = 0;
  if (const auto* integer = node.as_integer()) {
    number = static_cast<double>(integer->get());
  } else if (const auto* floating = node.as_floating_point()) {
    number = floating->get();
  } else {
    fail_type(node, file, path, "a number");
  }
  if (!(number >= min && number <= max)) {  // written so that NaN is out of range too
    fail_at(node.source(), file, path,
            format_number(number) + " is out of range (" + format_number(min) + ".." +
                format_number(max) + ")");
  }
  return number;
}

bool read_bool(const toml::node& node, const std::string& file, const std::string& path) {
  if (const auto* value = node.as_boolean()) return value->get();
  fail_type(node, file, path, "a boolean (true or false)");
}

Duration read_duration(const toml::node& node, const std::string& file, const std::string& path,
                       Duration min, Duration max) {
  const auto* text = node.as_string();
  if (text == nullptr) {
    fail_type(node, file, path, "a duration string " + std::string(kDurationExamples));
  }
  std::optional<Duration> value = parse_duration(text->get());
  if (!value) {
    fail_at(node.source(), file, path,
            in_quotes(text->get()) + " is not a duration " + std::string(kDurationExamples));
  }
  if (*value < min) {
    fail_at(node.source(), file, path,
            min <= Duration(1) ? in_quotes(text->get()) + " must be longer than 0 (use e.g. \"1s\")"
                               : in_quotes(text->get()) + " is shorter than the minimum of " +
                                     format_duration(min));
  }
  if (*value > max) {
    fail_at(node.source(), file, path,
            in_quotes(text->get()) + " is longer than the maximum of " + format_duration(max));
  }
  return *value;
}

TableReader::TableReader(toml::table& table, std::string key_path, std::string file)
    : table_(&table), key_path_(std::move(key_path)), file_(std::move(file)) {}

SourceLocation TableReader::where_of(std::string_view key) const {
  const toml::node* node = table_->get(key);
  return location_of(node != nullptr ? node->source() : table_->source(), file_);
}

void TableReader::expect_only(std::initializer_list<std::string_view> keys) {
  for (std::string_view key : keys) find(key);
  finish();
}

toml::node* TableReader::find(std::string_view key) {
  if (std::find(known_.begin(), known_.end(), key) == known_.end()) known_.emplace_back(key);
  return table_->get(key);
}

std::optional<std::string> TableReader::get_string(std::string_view key) {
  if (const toml::node* node = find(key)) return read_string(*node, file_, path_of(key));
  return std::nullopt;
}

std::optional<std::vector<std::string>> TableReader::get_string_array(std::string_view key) {
  toml::node* node = find(key);
  if (node == nullptr) return std::nullopt;
  std::string expected = "an array of strings";
  if (!node->is_array()) fail_type(*node, file_, path_of(key), expected);
  std::vector<std::string> out;
  toml::array& array = *node->as_array();
  for (size_t i = 0; i < array.size(); ++i) {
    out.push_back(read_string(array[i], file_, path_of(key) + "[" + std::to_string(i) + "]"));
  }
  return out;
}

std::optional<std::string> TableReader::get_choice(std::string_view key,
                                                   const std::vector<std::string>& allowed) {
  if (const toml::node* node = find(key)) return read_choice(*node, file_, path_of(key), allowed);
  return std::nullopt;
}

std::optional<int64_t> TableReader::get_int(std::string_view key, int64_t min, int64_t max) {
  if (const toml::node* node = find(key)) return read_int(*node, file_, path_of(key), min, max);
  return std::nullopt;
}

std::optional<double> TableReader::get_double(std::string_view key, double min, double max) {
  if (const toml::node* node = find(key)) return read_double(*node, file_, path_of(key), min, max);
  return std::nullopt;
}

std::optional<bool> TableReader::get_bool(std::string_view key) {
  if (const toml::node* node = find(key)) return read_bool(*node, file_, path_of(key));
  return std::nullopt;
}

std::optional<Duration> TableReader::get_duration(std::string_view key, Duration min,
                                                  Duration max) {
  if (const toml::node* node = find(key)) {
    return read_duration(*node, file_, path_of(key), min, max);
  }
  return std::nullopt;
}

std::string TableReader::require_string(std::string_view key, std::string_view example) {
  std::optional<std::string> value = get_string(key);
  if (!value) fail_missing(key, "add e.g. " + std::string(key) + " = " + std::string(example));
  return *value;
}

std::optional<TableReader> TableReader::get_table(std::string_view key) {
  toml::node* node = find(key);
  if (node == nullptr) return std::nullopt;
  if (!node->is_table()) {
    fail_type(*node, file_, path_of(key), "a table ([" + std::string(key) + "])");
  }
  return TableReader(*node->as_table(), path_of(key), file_);
}

std::vector<TableReader> TableReader::get_table_array(std::string_view key) {
  toml::node* node = find(key);
  if (node == nullptr) return {};
  std::string expected = "an array of tables ([[" + std::string(key) + "]])";
  if (!node->is_array()) fail_type(*node, file_, path_of(key), expected);
  std::vector<TableReader> readers;
  toml::array& array = *node->as_array();
  for (size_t i = 0; i < array.size(); ++i) {
    std::string element_path = path_of(key) + "[" + std::to_string(i) + "]";
    if (!array[i].is_table()) fail_type(array[i], file_, element_path, expected);
    readers.emplace_back(*array[i].as_table(), std::move(element_path), file_);
  }
  return readers;
}

std::optional<toml::table> TableReader::take_table(std::string_view key) {
  toml::node* node = find(key);
  if (node == nullptr) return std::nullopt;
  if (!node->is_table()) fail_type(*node, file_, path_of(key), "a table");
  return std::move(*node->as_table());
}

void TableReader::finish() const {
  // Report the first unknown key in file order (the table itself is sorted by name).
  const toml::key* first = nullptr;
  for (auto&& [key, node] : *table_) {
    bool known = std::find(known_.begin(), known_.end(), key.str()) != known_.end();
    if (!known && (first == nullptr || before(key.source().begin, first->source().begin))) {
      first = &key;
    }
  }
  if (first == nullptr) return;
  std::string suggestion = closest_name(first->str(), known_);
  std::string message = suggestion.empty()
                            ? "unknown key; remove it or use one of: " + join_names(known_)
                            : "unknown key; did you mean " + in_quotes(suggestion) +
                                  "? (known keys: " + join_names(known_) + ")";
  fail_at(first->source(), file_, path_of(first->str()), std::move(message));
}

void TableReader::fail(std::string_view key, std::string message) const {
  throw ConfigError(where_of(key), path_of(key), std::move(message));
}

void TableReader::fail_missing(std::string_view key, std::string_view hint) const {
  fail_at(table_->source(), file_, path_of(key),
          "missing required key " + in_quotes(key) + "; " + std::string(hint));
}

}  // namespace chaosd
