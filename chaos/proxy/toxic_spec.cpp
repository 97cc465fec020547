#include "chaos/proxy/toxic_spec.h"

#include <array>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

namespace chaosd {
namespace {
using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr double kMaxMilliseconds = 24.0 * 3600 * 1000;  // one day: any toxic longer is a typo
constexpr uint64_t kMaxRateBytesPerSecond = 1'000'000'000'000;
constexpr uint64_t kMaxSliceBytes = 1 << 20;
constexpr size_t kMaxNameLength = 64;

constexpr std::array kTypes = {ToxicType::latency,    ToxicType::bandwidth, ToxicType::timeout,
                               ToxicType::reset_peer, ToxicType::partition, ToxicType::slicer};

// The keys each type takes besides type, name, stream and expires_in_ms.
std::vector<std::string_view> keys_of(ToxicType type) {
  switch (type) {
    case ToxicType::latency:
      return {"latency_ms", "jitter_ms"};
    case ToxicType::bandwidth:
      return {"rate_bytes_per_second"};
    case ToxicType::timeout:
      return {"timeout_ms"};
    case ToxicType::reset_peer:
      return {"timeout_ms"};
    case ToxicType::partition:
      return {};
    case ToxicType::slicer:
      return {"average_size_bytes", "size_variation_bytes", "delay_us"};
  }
  return {};
}

std::string type_list() {
  std::string out;
  for (auto type : kTypes) out += std::string(out.empty() ? "" : ", ") + to_string(type);
  return out;
}

Duration from_milliseconds(double ms) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(ms));
}

// Whole milliseconds as an integer (what people write), fractions as a double.
json milliseconds_json(Duration d) {
  if (d % std::chrono::milliseconds(1) == Duration{}) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  }
  return std::chrono::duration<double, std::milli>(d).count();
}

// Reads the keys of one toxic, remembering the first error with the toxic's name in front.
class SpecReader {
 public:
  SpecReader(const json& object, std::string label) : object_(object), label_(std::move(label)) {}

  bool has(std::string_view key) const { return object_.contains(key); }
  const std::optional<Error>& error() const { return error_; }

  // Records the first error; returns nullopt so that getters can `return fail(...)`.
  std::nullopt_t fail(std::string_view key, const std::string& message) {
    if (!error_) {
      error_ =
          Error{ErrorCode::invalid_argument, label_ + ": " + std::string(key) + ": " + message};
    }
    return std::nullopt;
  }

  // A number of milliseconds (fractions allowed) in [min_ms, kMaxMilliseconds].
  std::optional<Duration> milliseconds(std::string_view key, bool required, double min_ms) {
    auto value = number(key, required);
    if (!value) return std::nullopt;
    if (*value < 0) return fail(key, dump(key) + " is negative (use milliseconds >= 0)");
    if (*value < min_ms) {
      return fail(key, dump(key) + " is too small (use milliseconds > 0)");
    }
    if (*value > kMaxMilliseconds) {
      return fail(key, dump(key) + " is more than a day (use milliseconds <= 86400000)");
    }
    return from_milliseconds(*value);
  }

  // A whole number in [min, max].
  std::optional<uint64_t> integer(std::string_view key, bool required, uint64_t min, uint64_t max,
                                  const char* unit) {
    auto value = number(key, required);
    if (!value) return std::nullopt;
    const json& node = object_.at(key);
    if (!node.is_number_integer()) {
      return fail(key, dump(key) + " is not a whole number of " + unit);
    }
    if (!node.is_number_unsigned() && node.get<int64_t>() < 0) {
      return fail(key,
                  dump(key) + " is negative (use " + unit + " >= " + std::to_string(min) + ")");
    }
    auto got = node.get<uint64_t>();
    if (got < min || got > max) {
      return fail(key, dump(key) + " is out of range (use " + unit + " in [" + std::to_string(min) +
                           ", " + std::to_string(max) + "])");
    }
    return got;
  }

 private:
  std::optional<double> number(std::string_view key, bool required) {
    auto it = object_.find(key);
    if (it == object_.end()) {
      if (required) fail(key, "missing (this toxic type needs it)");
      return std::nullopt;
    }
    if (!it->is_number()) return fail(key, dump(key) + " is not a number");
    double value = it->get<double>();
    if (!std::isfinite(value)) return fail(key, "is not a finite number");
    return value;
  }

  std::string dump(std::string_view key) const { return object_.at(key).dump(); }

  const json& object_;
  std::string label_;
  std::optional<Error> error_;
};

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

const char* to_string(ToxicType type) {
  switch (type) {
    case ToxicType::latency:
      return "latency";
    case ToxicType::bandwidth:
      return "bandwidth";
    case ToxicType::timeout:
      return "timeout";
    case ToxicType::reset_peer:
      return "reset_peer";
    case ToxicType::partition:
      return "partition";
    case ToxicType::slicer:
      return "slicer";
  }
  return "unknown";
}

const char* to_string(ToxicDirection direction) {
  return direction == ToxicDirection::upstream ? "upstream" : "downstream";
}

std::optional<ToxicType> parse_toxic_type(std::string_view text) {
  for (auto type : kTypes) {
    if (text == to_string(type)) return type;
  }
  return std::nullopt;
}

std::optional<ToxicDirection> parse_toxic_direction(std::string_view text) {
  if (text == "upstream") return ToxicDirection::upstream;
  if (text == "downstream") return ToxicDirection::downstream;
  return std::nullopt;
}

Result<ToxicSpec> parse_toxic_spec(const json& object) {
  if (!object.is_object()) {
    return Error{ErrorCode::invalid_argument,
                 "toxic: expected a JSON object, got " + std::string(object.type_name())};
  }
  ToxicSpec spec;
  std::string label = "toxic";
  if (auto it = object.find("name"); it != object.end()) {
    if (!it->is_string())
      return Error{ErrorCode::invalid_argument, "toxic: name: must be a string"};
    spec.name = it->get<std::string>();
    label = "toxic \"" + spec.name + "\"";
  }
  auto type_it = object.find("type");
  if (type_it == object.end()) {
    return Error{ErrorCode::invalid_argument,
                 label + ": type: missing (one of " + type_list() + ")"};
  }
  auto type = type_it->is_string() ? parse_toxic_type(type_it->get<std::string>()) : std::nullopt;
  if (!type) {
    return Error{ErrorCode::invalid_argument, label + ": type: " + type_it->dump() +
                                                  " is not a toxic type (use one of " +
                                                  type_list() + ")"};
  }
  spec.type = *type;
  if (auto it = object.find("stream"); it != object.end()) {
    auto direction = it->is_string() ? parse_toxic_direction(it->get<std::string>()) : std::nullopt;
    if (!direction) {
      return Error{ErrorCode::invalid_argument,
                   label + ": stream: " + it->dump() + " is not a stream (use \"upstream\" for " +
                       "client->server or \"downstream\" for server->client)"};
    }
    spec.direction = *direction;
  }
  auto allowed = keys_of(spec.type);
  for (const auto& [key, value] : object.items()) {
    if (key == "type" || key == "name" || key == "stream" || key == "expires_in_ms") continue;
    bool known = false;
    for (auto k : allowed) known = known || k == key;
    if (!known) {
      std::string takes;
      for (auto k : allowed) takes += std::string(takes.empty() ? "" : ", ") + std::string(k);
      return Error{ErrorCode::invalid_argument, label + ": " + key + ": unknown key for a " +
                                                    to_string(spec.type) + " toxic (it takes " +
                                                    (takes.empty() ? "no parameters" : takes) +
                                                    ", plus name, stream, expires_in_ms)"};
    }
  }

  SpecReader reader(object, label);
  ToxicParams& p = spec.params;
  switch (spec.type) {
    case ToxicType::latency:
      p.latency = reader.milliseconds("latency_ms", true, 0).value_or(Duration{});
      p.jitter = reader.milliseconds("jitter_ms", false, 0).value_or(Duration{});
      break;
    case ToxicType::bandwidth:
      p.rate_bytes_per_second =
          reader.integer("rate_bytes_per_second", true, 1, kMaxRateBytesPerSecond, "bytes/s")
              .value_or(0);
      break;
    case ToxicType::timeout:
    case ToxicType::reset_peer:
      p.timeout = reader.milliseconds("timeout_ms", false, 0).value_or(Duration{});
      break;
    case ToxicType::partition:
      break;
    case ToxicType::slicer:
      p.average_size_bytes =
          reader.integer("average_size_bytes", true, 1, kMaxSliceBytes, "bytes").value_or(0);
      p.size_variation_bytes =
          reader.integer("size_variation_bytes", false, 0, kMaxSliceBytes, "bytes").value_or(0);
      p.slice_delay = std::chrono::microseconds(
          reader.integer("delay_us", false, 0, 10'000'000, "microseconds").value_or(0));
      break;
  }
  if (reader.has("expires_in_ms")) {
    constexpr double kAboveZero = 1e-3;
    spec.expires_in = reader.milliseconds("expires_in_ms", true, kAboveZero);
  }
  if (reader.error()) return *reader.error();
  return validate_toxic_spec(std::move(spec));
}

Result<ToxicSpec> validate_toxic_spec(ToxicSpec spec) {
  if (spec.name.empty()) {
    spec.name = std::string(to_string(spec.type)) + "_" + to_string(spec.direction);
  }
  std::string label = "toxic \"" + spec.name + "\"";
  auto fail = [&](const std::string& message) -> Result<ToxicSpec> {
    return Error{ErrorCode::invalid_argument, label + ": " + message};
  };
  if (!valid_name(spec.name)) {
    return fail("name: use 1 to 64 characters among letters, digits, '_', '-' and '.'");
  }
  const ToxicParams& p = spec.params;
  const Duration max = from_milliseconds(kMaxMilliseconds);
  if (p.latency < Duration{} || p.jitter < Duration{} || p.timeout < Duration{} ||
      p.slice_delay < Duration{}) {
    return fail("durations must not be negative");
  }
  if (p.latency > max || p.jitter > max || p.timeout > max) {
    return fail("durations must be at most a day");
  }
  if (spec.type == ToxicType::bandwidth &&
      (p.rate_bytes_per_second == 0 || p.rate_bytes_per_second > kMaxRateBytesPerSecond)) {
    return fail("rate_bytes_per_second: must be in [1, 1000000000000]");
  }
  if (spec.type == ToxicType::slicer) {
    if (p.average_size_bytes == 0 || p.average_size_bytes > kMaxSliceBytes) {
      return fail("average_size_bytes: must be in [1, 1048576]");
    }
    if (p.size_variation_bytes >= p.average_size_bytes) {
      return fail("size_variation_bytes: " + std::to_string(p.size_variation_bytes) +
                  " must be smaller than average_size_bytes (" +
                  std::to_string(p.average_size_bytes) + ")");
    }
  }
  if (spec.expires_in && *spec.expires_in <= Duration{}) {
    return fail("expires_in_ms: must be > 0 (leave it out for a toxic that stays)");
  }
  return spec;
}

json to_json(const ToxicSpec& spec) {
  json out = {
      {"type", to_string(spec.type)}, {"name", spec.name}, {"stream", to_string(spec.direction)}};
  const ToxicParams& p = spec.params;
  switch (spec.type) {
    case ToxicType::latency:
      out["latency_ms"] = milliseconds_json(p.latency);
      out["jitter_ms"] = milliseconds_json(p.jitter);
      break;
    case ToxicType::bandwidth:
      out["rate_bytes_per_second"] = p.rate_bytes_per_second;
      break;
    case ToxicType::timeout:
    case ToxicType::reset_peer:
      out["timeout_ms"] = milliseconds_json(p.timeout);
      break;
    case ToxicType::partition:
      break;
    case ToxicType::slicer:
      out["average_size_bytes"] = p.average_size_bytes;
      out["size_variation_bytes"] = p.size_variation_bytes;
      out["delay_us"] =
          std::chrono::duration_cast<std::chrono::microseconds>(p.slice_delay).count();
      break;
  }
  if (spec.expires_in) out["expires_in_ms"] = milliseconds_json(*spec.expires_in);
  return out;
}

}  // namespace chaosd
