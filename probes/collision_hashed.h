#pragma once
// The hashed-key part of the collision probe: logical keys stored under a truncated digest of
// their name, so that distinct keys really collide (birthday bound), written by several tenants
// at once through a Lua script that detects a collision (the bucket holds another logical key)
// and resolves it by chaining to the bucket's overflow slots.

#include <boost/asio/awaitable.hpp>
#include <string>
#include <vector>

#include "probes/collision.h"

namespace chaosd {

class HashedKeys {
 public:
  /// Keys under `key_base` ("<prefix>r<run>:"): buckets "h:<hex>", overflow slots "h:<hex>:c<n>".
  HashedKeys(const CollisionParams& params, std::string key_base, uint64_t run);

  /// Writes tenant `t`'s logical keys one at a time (so that tenants interleave on the server).
  /// Returns the first error.
  boost::asio::awaitable<Status> write(RedisConnection& connection, int t);
  /// Reads every logical key back through its chain and adds the "hashed" measurements and
  /// notes to `result`.
  boost::asio::awaitable<Status> verify(RedisClient& redis, ProbeResult& result) const;

 private:
  std::string chain_key(const std::string& bucket, int slot) const;

  const CollisionParams& params_;
  std::string base_;
  uint64_t run_;
  std::vector<std::string> logical_;   // tenant-major
  std::vector<std::string> expected_;  // the value written for each logical key
  std::vector<int64_t> position_;      // chain position the write took; -1: chain full
  std::vector<double> collided_write_seconds_;
};

/// The bucket of `logical` in run `run`: its salted digest (owned_value_digest) truncated to
/// `bits` bits, as lower-case hex.
std::string collision_bucket(const std::string& logical, uint64_t run, int bits);

/// Colliding keys expected among `keys` keys in `buckets` buckets: keys minus the expected
/// number of occupied buckets.
double expected_collisions(double keys, double buckets);

}  // namespace chaosd
