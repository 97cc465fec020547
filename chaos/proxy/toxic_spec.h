#pragma once
// ToxicSpec: what one toxic of the fault proxy does, as a plain value. The JSON shape mirrors
// Toxiproxy's field names with the unit spelled out (Toxiproxy "latency" is our "latency_ms"), flat
// instead of under "attributes", and strict: an unknown or misplaced key is an error.
//
//   {"type": "latency", "name": "lag", "stream": "downstream",
//    "latency_ms": 20, "jitter_ms": 5, "expires_in_ms": 5000}
//
// Thread-safety: plain values and pure functions; safe from any thread.

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "config/duration.h"
#include "daemon/util/result.h"

namespace chaosd {

enum class ToxicType {
  latency,     // delay every chunk by latency +- jitter, order preserved
  bandwidth,   // limit the rate to rate_bytes_per_second (token bucket)
  timeout,     // stop forwarding (blackhole); close the connection after `timeout` if > 0
  reset_peer,  // reset the connection (RST) after `timeout`
  partition,   // drop every byte silently; the connection stays open
  slicer,      // cut chunks into small slices with a delay between them
};

/// upstream = client -> server, downstream = server -> client (Toxiproxy's "stream").
enum class ToxicDirection { upstream, downstream };

const char* to_string(ToxicType type);
const char* to_string(ToxicDirection direction);
std::optional<ToxicType> parse_toxic_type(std::string_view text);
std::optional<ToxicDirection> parse_toxic_direction(std::string_view text);

/// The parameters of every toxic type; each type reads only its own (see the comments).
struct ToxicParams {
  Duration latency{};                  // latency: base delay
  Duration jitter{};                   // latency: uniform +- around `latency` (clamped at 0)
  uint64_t rate_bytes_per_second = 0;  // bandwidth: > 0
  Duration timeout{};                  // timeout, reset_peer: 0 = hold forever / reset now
  uint64_t average_size_bytes = 0;     // slicer: > 0
  uint64_t size_variation_bytes = 0;   // slicer: < average_size_bytes
  Duration slice_delay{};              // slicer: pause between two slices
};

struct ToxicSpec {
  ToxicType type = ToxicType::latency;
  std::string name;  // unique per link; defaults to "<type>_<stream>" like Toxiproxy
  ToxicDirection direction = ToxicDirection::downstream;
  ToxicParams params;
  std::optional<Duration> expires_in;  // removed by itself this long after it is added
};

/// Parses one toxic from JSON. Pure: safe from any thread. Errors (ErrorCode::internal, message
/// naming the key and the fix): not an object, unknown/missing type, bad stream, a key the type
/// does not take, a wrong JSON type, a negative or out-of-range number, an invalid name.
Result<ToxicSpec> parse_toxic_spec(const nlohmann::json& json);

/// Checks the ranges of an already built spec (parse_toxic_spec() runs it too); for specs built
/// in code. Fills in the default name.
Result<ToxicSpec> validate_toxic_spec(ToxicSpec spec);

/// The JSON shape parse_toxic_spec() reads back (only the keys of the spec's type).
nlohmann::json to_json(const ToxicSpec& spec);

}  // namespace chaosd
