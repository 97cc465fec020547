#pragma once
// The values the collision probe writes: "v1|<owner>|<logical key>|<seq>|<payload>|<checksum>",
// where the checksum is the FNV-1a 64 digest (16 hex digits) of everything before its '|'. Any
// reader can tell who wrote a value, for which logical key, and whether it is intact, without
// knowing what was written. Owner and logical key must not contain '|'.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace chaosd {

/// Values only have to outlive one run; each run deletes its keys when it ends.
inline constexpr const char* kCollisionValueTtlMs = "60000";

/// The owner name of tenant `t`: "t<t>".
inline std::string collision_tenant(int t) { return "t" + std::to_string(t); }

struct OwnedValue {
  std::string owner;
  std::string logical;
  int64_t seq = 0;
  bool checksum_ok = false;
};

/// FNV-1a 64 of `text` followed by a bit mixer (so that truncating it to a few bits still
/// spreads keys uniformly).
uint64_t owned_value_digest(std::string_view text);

/// A value of `payload_bytes` deterministic alphanumeric payload bytes (seeded by all the other
/// fields and `salt`).
std::string encode_owned_value(const std::string& owner, const std::string& logical, int64_t seq,
                               uint64_t salt, int payload_bytes);

/// The fields of a stored value; nullopt when it is not in the format at all.
std::optional<OwnedValue> parse_owned_value(const std::string& stored);

/// Why `stored` (null: the key was gone) is not the intact value `expected` that `owner` wrote
/// for `logical`; nullopt when it is.
std::optional<std::string> value_damage(const std::string* stored, const std::string& owner,
                                        const std::string& logical, const std::string& expected);

}  // namespace chaosd
