#include "config/params.h"

#include <limits>
#include <utility>

#include "config/toml_reader.h"

namespace chaosd {

ParamReader::ParamReader(const toml::table& params, std::string key_path, std::string file)
    : params_(params), key_path_(std::move(key_path)), file_(std::move(file)) {}

int64_t ParamReader::get_int(std::string_view key, int64_t fallback, int64_t min, int64_t max) {
  used_.emplace(key);
  const toml::node* node = params_.get(key);
  return node == nullptr ? fallback : read_int(*node, file_, child_path(key_path_, key), min, max);
}

double ParamReader::get_double(std::string_view key, double fallback, double min, double max) {
  used_.emplace(key);
  const toml::node* node = params_.get(key);
  return node == nullptr ? fallback
                         : read_double(*node, file_, child_path(key_path_, key), min, max);
}

bool ParamReader::get_bool(std::string_view key, bool fallback) {
  used_.emplace(key);
  const toml::node* node = params_.get(key);
  return node == nullptr ? fallback : read_bool(*node, file_, child_path(key_path_, key));
}

std::string ParamReader::get_string(std::string_view key, std::string fallback,
                                    const std::vector<std::string>& allowed) {
  used_.emplace(key);
  const toml::node* node = params_.get(key);
  if (node == nullptr) return fallback;
  std::string path = child_path(key_path_, key);
  return allowed.empty() ? read_string(*node, file_, path)
                         : read_choice(*node, file_, path, allowed);
}

Duration ParamReader::get_duration(std::string_view key, Duration fallback, Duration min,
                                   Duration max) {
  used_.emplace(key);
  const toml::node* node = params_.get(key);
  return node == nullptr ? fallback
                         : read_duration(*node, file_, child_path(key_path_, key), min, max);
}

std::vector<int64_t> ParamReader::get_int_list(std::string_view key, std::vector<int64_t> fallback,
                                               int64_t min, int64_t max, size_t max_items) {
  used_.emplace(key);
  const toml::node* node = params_.get(key);
  if (node == nullptr) return fallback;
  std::string path = child_path(key_path_, key);
  const toml::array* array = node->as_array();
  if (array == nullptr) fail_type(*node, file_, path, "an array of integers (e.g. [1, 2])");
  if (array->empty() || array->size() > max_items) {
    fail_at(node->source(), file_, path,
            "expected 1 to " + std::to_string(max_items) + " integers, got " +
                std::to_string(array->size()));
  }
  std::vector<int64_t> out;
  for (size_t i = 0; i < array->size(); ++i) {
    out.push_back(read_int(*array->get(i), file_, path + "[" + std::to_string(i) + "]", min, max));
  }
  return out;
}

std::optional<int64_t> parse_byte_size(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 18) return std::nullopt;
  int64_t value = 0;
  for (size_t i = 0; i < digits; ++i) value = value * 10 + (text[i] - '0');
  std::string unit;
  for (char c : text.substr(digits)) {
    unit += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  int64_t scale = 1;
  if (unit.empty() || unit == "b") {
    scale = 1;
  } else if (unit == "k" || unit == "kb") {
    scale = int64_t{1} << 10;
  } else if (unit == "m" || unit == "mb") {
    scale = int64_t{1} << 20;
  } else if (unit == "g" || unit == "gb") {
    scale = int64_t{1} << 30;
  } else {
    return std::nullopt;
  }
  if (value > std::numeric_limits<int64_t>::max() / scale) return std::nullopt;
  return value * scale;
}

int64_t ParamReader::get_bytes(std::string_view key, int64_t fallback, int64_t min, int64_t max) {
  used_.emplace(key);
  const toml::node* node = params_.get(key);
  if (node == nullptr) return fallback;
  std::string path = child_path(key_path_, key);
  if (node->is_integer()) return read_int(*node, file_, path, min, max);
  if (!node->is_string()) fail_type(*node, file_, path, "a size (bytes, or a string like \"8mb\")");
  const std::string text = node->value<std::string>().value_or("");
  auto bytes = parse_byte_size(text);
  if (!bytes) {
    fail_at(node->source(), file_, path,
            in_quotes(text) + " is not a size (use bytes, or e.g. \"512kb\", \"8mb\", \"1gb\")");
  }
  if (*bytes < min || *bytes > max) {
    fail_at(node->source(), file_, path,
            in_quotes(text) + " is out of range (use " + std::to_string(min) + " to " +
                std::to_string(max) + " bytes)");
  }
  return *bytes;
}

void ParamReader::finish() const {
  // The first unknown key in file order; params_ itself iterates sorted by name.
  const toml::key* first = nullptr;
  for (auto&& [key, node] : params_) {
    if (used_.contains(key.str())) continue;
    const auto& at = key.source().begin;
    const auto& best = first == nullptr ? at : first->source().begin;
    if (first == nullptr || std::pair(at.line, at.column) < std::pair(best.line, best.column)) {
      first = &key;
    }
  }
  if (first == nullptr) return;
  std::vector<std::string> known(used_.begin(), used_.end());
  std::string path = child_path(key_path_, first->str());
  if (known.empty()) {
    fail_at(first->source(), file_, path, "unknown parameter; none are accepted here (remove it)");
  }
  std::string suggestion = closest_name(first->str(), known);
  std::string message = "unknown parameter; ";
  if (!suggestion.empty()) message += "did you mean " + in_quotes(suggestion) + "? ";
  fail_at(first->source(), file_, path, message + "known ones: " + join_names(known));
}

void ParamReader::fail(const toml::node* node, std::string_view key, const std::string& msg) const {
  fail_at(node != nullptr ? node->source() : params_.source(), file_, child_path(key_path_, key),
          msg);
}

}  // namespace chaosd
