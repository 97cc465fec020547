#include "config/params.h"

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
