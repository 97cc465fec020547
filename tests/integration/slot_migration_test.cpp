// move_slot() against a real 3-primary cluster: every key of the slot and the slot itself end up
// on the target, every node agrees, and a move from a node that does not own the slot is refused
// without leaving the target importing it.

#include "daemon/redis/slot_migration.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include "daemon/redis/crc16.h"
#include "tests/support/loop.h"
#include "tests/support/redis_cluster.h"

namespace chaosd {
namespace {
namespace asio = boost::asio;
using test::RedisCluster;
using test::RedisServer;
using namespace std::chrono_literals;

ClusterNode node_of(const RedisServer& server) {
  ClusterNode node;
  node.host = "127.0.0.1";
  node.port = server.port();
  node.primary = true;
  return node;
}

ConnectionOptions admin_options() {
  ConnectionOptions o;
  o.client_name = "redis-chaosd:test:admin";
  o.command_timeout = 2s;
  return o;
}

RedisServer& another_primary(RedisCluster& cluster, const RedisServer& owner) {
  for (RedisServer* primary : cluster.primaries()) {
    if (primary != &owner) return *primary;
  }
  throw std::runtime_error("no other primary");
}

Result<SlotMove> move(RedisCluster& cluster, uint16_t slot, const RedisServer& from,
                      const RedisServer& to, int keys_per_batch) {
  asio::io_context io;
  std::vector<ClusterEndpoint> seeds = {{"127.0.0.1", cluster.server(0).port()}};
  ClusterClient client(io.get_executor(), seeds, admin_options());
  using Outcome = std::optional<Result<SlotMove>>;  // run_on_loop needs a default value
  auto outcome = test::run_on_loop<Outcome>(io, [&]() -> asio::awaitable<Outcome> {
    Status loaded = co_await client.refresh();
    if (!loaded) co_return Result<SlotMove>(loaded.error());
    SlotMigrationOptions options;
    options.keys_per_batch = keys_per_batch;
    ClusterNode source = node_of(from);
    ClusterNode target = node_of(to);
    auto moved = co_await move_slot(client, slot, source, target, options);
    co_return moved;
  });
  return std::move(*outcome);
}

TEST(SlotMigration, MovesEveryKeyOfTheSlotAndTheSlotItself) {
  RedisCluster cluster;
  const std::string tag = "{slot-migration}";
  const uint16_t slot = key_hash_slot(tag);
  RedisServer& source = cluster.owner_of(slot);
  RedisServer& target = another_primary(cluster, source);
  for (int i = 0; i < 250; ++i) {
    ASSERT_EQ(source.cli({"SET", tag + ":k" + std::to_string(i), std::to_string(i)}), "OK");
  }
  auto moved = move(cluster, slot, source, target, 50);
  ASSERT_TRUE(moved) << moved.error().describe();
  EXPECT_EQ(moved->keys_moved, 250);
  EXPECT_EQ(moved->batches, 5);
  EXPECT_EQ(moved->from.id, cluster.node_id(source));
  EXPECT_EQ(moved->to.id, cluster.node_id(target));
  EXPECT_TRUE(moved->warnings.empty());
  EXPECT_GE(moved->finished, moved->started);
  cluster.wait_until_stable();  // every node agrees on every slot: nothing left mid-migration
  EXPECT_EQ(&cluster.owner_of(slot), &target);
  EXPECT_EQ(source.count_keys(tag + "*"), 0);
  EXPECT_EQ(target.count_keys(tag + "*"), 250);
  EXPECT_EQ(target.cli({"GET", tag + ":k249"}), "249");
  for (RedisServer* primary : cluster.primaries()) {
    EXPECT_EQ(&cluster.owner_of(slot, *primary), &target) << primary->address();
  }

  // And back, in one batch.
  auto back = move(cluster, slot, target, source, 1000);
  ASSERT_TRUE(back) << back.error().describe();
  EXPECT_EQ(back->keys_moved, 250);
  EXPECT_EQ(back->batches, 1);
  cluster.wait_until_stable();
  EXPECT_EQ(&cluster.owner_of(slot), &source);
  EXPECT_EQ(source.count_keys(tag + "*"), 250);
}

TEST(SlotMigration, RefusesToMoveFromANodeThatDoesNotOwnTheSlot) {
  RedisCluster cluster;
  const uint16_t slot = key_hash_slot("{slot-migration}");
  RedisServer& owner = cluster.owner_of(slot);
  RedisServer& target = another_primary(cluster, owner);
  RedisServer* not_owner = nullptr;
  for (RedisServer* primary : cluster.primaries()) {
    if (primary != &owner && primary != &target) not_owner = primary;
  }
  ASSERT_NE(not_owner, nullptr);
  auto moved = move(cluster, slot, *not_owner, target, 100);
  ASSERT_FALSE(moved);
  EXPECT_NE(moved.error().message.find("SETSLOT MIGRATING"), std::string::npos)
      << moved.error().message;
  // The target's IMPORTING was undone: CLUSTER NODES shows "[slot-<-id]" while importing.
  const std::string importing = "[" + std::to_string(slot) + "-<-";
  EXPECT_EQ(target.cli({"CLUSTER", "NODES"}).find(importing), std::string::npos);
  cluster.wait_until_stable();
  EXPECT_EQ(&cluster.owner_of(slot), &owner);

  auto same = move(cluster, slot, owner, owner, 100);
  ASSERT_FALSE(same);
  EXPECT_EQ(same.error().code, ErrorCode::invalid_argument);
}

}  // namespace
}  // namespace chaosd
