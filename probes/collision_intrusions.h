#pragma once
// The intrusions of the collision probe: a tenant writes into a key another tenant owns, once
// through the owner-checking script (it must be rejected) and once with a plain SET that bypasses
// the check (the owner must notice, through keyspace events or by polling, and restore its value).

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string>
#include <vector>

#include "probes/collision.h"

namespace chaosd {

/// Writes KEYS[1] = ARGV[2] (PX ARGV[3]) only when the key is free or its stored owner is
/// ARGV[1]; otherwise returns the owner found there, writing nothing.
extern const char* const kCollisionCheckedSet;

/// The tenants' namespace keys of one run and the value each owner last stored.
struct TenantKeys {
  TenantKeys(const CollisionParams& params, std::string key_base, uint64_t run_number);
  const CollisionParams& params;
  std::string base;  // "<prefix>r<run>:"
  uint64_t run;
  std::vector<std::vector<std::string>> last;  // [tenant][key]

  std::string key(int t, int k) const { return base + logical(t, k); }
  std::string logical(int t, int k) const;
};

struct KeyEvents;

class Intrusions {
 public:
  Intrusions(TenantKeys& keys, std::vector<std::unique_ptr<RedisConnection>>& tenants);
  ~Intrusions();

  /// Chooses how owners watch their keys: keyspace events when the server emits them for
  /// strings (CONFIG GET notify-keyspace-events; then PSUBSCRIBE on a connection of its own to
  /// the tenants' node), else polling. Says which in a note; an error when subscribing fails.
  boost::asio::awaitable<Status> watch(ProbeContext& ctx, ProbeResult& result);
  /// Runs the `intrusions` intrusions one after the other.
  boost::asio::awaitable<Status> run_all();
  /// The "checked" and "bypass" measurements and the notes about missed intrusions.
  void report(ProbeResult& result) const;

 private:
  boost::asio::awaitable<Status> intrude(int victim, int key_index);
  using Found = std::optional<std::pair<std::string, SteadyTime>>;  // foreign value, seen at
  boost::asio::awaitable<Result<Found>> owner_detects(int victim, int key_index,
                                                      SteadyTime deadline);

  TenantKeys& keys_;
  std::vector<std::unique_ptr<RedisConnection>>& tenants_;
  std::unique_ptr<RedisConnection> subscriber_;
  std::shared_ptr<KeyEvents> events_;  // null: owners poll
  SteadyTime poll_origin_{};           // the owners' polling schedule starts here

  std::vector<double> checked_seconds_, bypass_seconds_;  // detection times (max_wait if missed)
  int attempts_ = 0, checked_rejected_ = 0, bypass_detected_ = 0, bypass_restored_ = 0;
  std::vector<std::string> notes_;
};

}  // namespace chaosd
