#pragma once
// Redis Cluster key hashing: CRC16 (XMODEM variant) of the key, or of its hash tag, modulo 16384.
// Must match the server bit for bit, or every command for the key is redirected.
//
// Thread-safety: pure functions, safe from any thread.

#include <cstdint>
#include <string_view>

namespace chaosd {

inline constexpr uint16_t kClusterSlots = 16384;

/// CRC16-CCITT XMODEM: polynomial 0x1021, initial value 0, no reflection, no final xor (the one in
/// Redis' crc16.c). crc16_xmodem("123456789") == 0x31C3.
uint16_t crc16_xmodem(std::string_view data);

/// The part of `key` that is hashed: the content of the first "{...}" when it is non-empty (the
/// first '{', then the first '}' after it), otherwise the whole key. "foo{{bar}}zap" -> "{bar".
std::string_view hash_tag(std::string_view key);

/// The cluster slot (0..16383) that serves `key`, as CLUSTER KEYSLOT computes it.
uint16_t key_hash_slot(std::string_view key);

}  // namespace chaosd
