#pragma once
// collision: when several tenants share a keyspace, is a write into a key another tenant owns
// detected and resolved quickly, and do values stay intact? And when keys are short hashes of
// logical names, are real hash collisions detected and resolved?
//
// Each run has `tenants` tenants, each with its own connection, writing values that carry
// {owner, logical key, sequence, payload, checksum} (`v1|t2|t2:k5|3|<payload>|<fnv1a64 hex>`):
// - namespaces: each tenant writes its `keys_per_tenant` keys `rounds` times, all tenants at
//   once, through an owner-checking Lua SET (rejects a key whose stored owner is someone else);
// - intrusions (`intrusions` times, one after the other): a tenant writes into a key another
//   tenant owns, first through the owner-checking script (must be rejected: detected at the
//   reply, resolved by the rejection), then with a plain SET that bypasses the check. The owner
//   must detect that one itself: on a keyspace notification for the key when the server emits
//   them (notify-keyspace-events with K and $ or A), else by polling its keys every
//   `poll_interval`; it then restores its value with a compare-and-set script;
// - hashed keys: each tenant writes `hashed_keys` logical keys stored under a `hash_bits`-bit
//   truncated FNV-1a digest of the logical name, all tenants at once, through a Lua script that
//   takes the bucket when it is free or holds the same logical key, else chains to the bucket's
//   next overflow slot (at most `max_chain`). With a few hundred keys in 4096 buckets real
//   collisions happen (birthday bound); each is detected by the script and resolved by chaining.
// Finally every value is read back and checked (owner, logical key, checksum, last write).
//
// Measurements (subject "checked", "bypass" or "hashed"): collision_detection_seconds (worst),
// collision_resolution_ratio, collisions_total; value_integrity_ratio (subject "namespace" or
// "hashed").
//
//   [[probes]]
//   type = "collision"
//   target = "main"
//   interval = "30s"
//   timeout = "10s"
//   params = { tenants = 4, keys_per_tenant = 16, rounds = 3, intrusions = 3, hashed_keys = 64,
//              hash_bits = 12, max_chain = 4, value_bytes = 64, poll_interval = "1ms",
//              max_wait = "1s" }

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "probes/registry.h"

namespace chaosd {

struct CollisionParams {
  int tenants = 4;
  int keys_per_tenant = 16;
  int rounds = 3;
  int intrusions = 3;
  int hashed_keys = 64;  // per tenant
  int hash_bits = 12;
  int max_chain = 4;  // overflow slots after the bucket itself
  int value_bytes = 64;
  Duration poll_interval = std::chrono::milliseconds(1);
  Duration max_wait = std::chrono::seconds(1);  // for the owner to detect one bypassing write
};

class CollisionProbe final : public Probe {
 public:
  /// Called once all writes are done, before the final read-back, with the run's key base
  /// ("<prefix>r<run>:"); tests use it to damage values behind the probe's back.
  using BeforeVerify = std::function<void(const std::string& key_base)>;

  explicit CollisionProbe(CollisionParams params) : params_(params) {}
  boost::asio::awaitable<ProbeResult> run(ProbeContext& ctx) override;
  boost::asio::awaitable<Status> cleanup(ProbeContext& ctx) override;
  void set_before_verify(BeforeVerify hook) { before_verify_ = std::move(hook); }

  struct Run;  // one run's state, shared by the tenants (collision.cpp)

 private:
  boost::asio::awaitable<Status> open_tenants(ProbeContext& ctx);

  CollisionParams params_;
  BeforeVerify before_verify_;
  uint64_t run_number_ = 0;
  std::vector<std::unique_ptr<RedisConnection>> tenants_;  // kept across runs
  std::optional<NodeAddress> tenants_node_;
};

ProbeType collision_probe_type();

}  // namespace chaosd
