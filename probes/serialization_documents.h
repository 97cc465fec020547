#pragma once
// The payloads of the serialization probe: deterministic documents shaped like an application's
// cached object (a user, a session, a cart of items: nested objects and arrays, UTF-8 strings
// with accents, CJK, an emoji and characters JSON must escape, integers, floats, booleans,
// nulls), and raw byte strings.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace chaosd {

/// A document whose compact JSON encoding (dump()) is at least `target_bytes` long and at most
/// one cart item (~300 bytes) longer, unless its fixed part alone is longer. The same `seed`
/// gives the same document on every platform.
nlohmann::json make_serialization_document(size_t target_bytes, uint64_t seed);

/// `size` pseudo-random bytes (every byte value, NULs included), the same for the same `seed`.
std::string make_raw_payload(size_t size, uint64_t seed);

}  // namespace chaosd
