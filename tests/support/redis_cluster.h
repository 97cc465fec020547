#pragma once
// A real Redis Cluster for one test: six redis-server processes on free loopback ports joined by
// `redis-cli --cluster create` into 3 primaries with one replica each, plus the admin steps a test
// needs to put the cluster in the states a client must survive: a slot halfway through a live
// migration (ASK), a finished migration (MOVED), a promoted replica, an unserved slot
// (CLUSTERDOWN). Blocking, test-side only; every wait is bounded and throws when it runs out.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/redis_server.h"

namespace chaosd::test {

class RedisCluster {
 public:
  /// Starts the six servers, creates the cluster and waits until every node reports
  /// cluster_state:ok and agrees on who serves every slot. Throws std::runtime_error otherwise.
  RedisCluster();
  RedisCluster(const RedisCluster&) = delete;
  RedisCluster& operator=(const RedisCluster&) = delete;

  size_t size() const { return servers_.size(); }
  RedisServer& server(size_t i) { return *servers_.at(i); }
  /// The server listening on `port`; throws if none does.
  RedisServer& by_port(uint16_t port);
  std::string node_id(const RedisServer& server) const;

  /// The primary serving `slot` as `viewer` (default: the first running node) sees it.
  RedisServer& owner_of(uint16_t slot);
  RedisServer& owner_of(uint16_t slot, const RedisServer& viewer);
  std::vector<RedisServer*> primaries();
  /// A replica of `primary` as `primary` itself lists it.
  RedisServer& replica_of(const RedisServer& primary);

  // A live slot migration, step by step, as redis-cli --cluster reshard does it.
  /// SETSLOT IMPORTING on `target`, then SETSLOT MIGRATING on `source`.
  void begin_migration(uint16_t slot, RedisServer& source, RedisServer& target);
  /// MIGRATE one key from `source` to `target` (the slot must be migrating).
  void migrate_key(RedisServer& source, RedisServer& target, const std::string& key);
  /// SETSLOT NODE `target` on the target, the source and every other primary, then waits until
  /// every running node agrees.
  void finish_migration(uint16_t slot, RedisServer& source, RedisServer& target);

  /// CLUSTER FAILOVER on `replica` once it is in sync; waits until every running node sees it as
  /// the primary of its shard.
  void failover(RedisServer& replica);
  /// CLUSTER DELSLOTS `slot` on every node: nobody serves it, commands get CLUSTERDOWN.
  void unassign_slot(uint16_t slot);

  /// Waits until every running node says cluster_state:ok and agrees on every slot's owner.
  void wait_until_stable(std::chrono::seconds limit = std::chrono::seconds(20));

 private:
  std::vector<std::string> slot_owners(const RedisServer& viewer) const;  // slot -> node id
  RedisServer& by_id(const std::string& id);
  const RedisServer& first_running() const;
  std::vector<std::unique_ptr<RedisServer>> servers_;
  std::vector<std::string> ids_;  // CLUSTER MYID of servers_[i]; stable for the cluster's life
};

}  // namespace chaosd::test
