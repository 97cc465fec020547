// ClusterClient against a real 3-primary/3-replica cluster: routing by slot, ASK during a live
// slot migration, MOVED after it, failovers, and bounded retries on TRYAGAIN and CLUSTERDOWN.
// Each test starts six redis-servers: keep the count low.

#include "daemon/redis/cluster_client.h"

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
using test::run_on_loop;
using namespace std::chrono_literals;

ConnectionOptions base_options() {
  ConnectionOptions o;
  o.client_name = "redis-chaosd:cluster-test";
  o.command_timeout = 1s;
  o.connect_timeout = 500ms;
  o.backoff_initial = 20ms;
  o.backoff_max = 100ms;
  return o;
}

std::vector<ClusterEndpoint> seeds_of(RedisCluster& cluster) {
  return {ClusterEndpoint{"127.0.0.1", cluster.server(0).port()}};
}

std::string describe(const Result<Reply>& r) {
  if (r) return "ok:" + r.value().debug_string();
  return std::string(to_string(r.error().code)) + ":" + r.error().message;
}

std::string describe(const Status& s) { return s ? "ok" : s.error().describe(); }

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(asio::use_awaitable);
}

// Runs one command on the loop and renders its result.
std::string run(asio::io_context& io, ClusterClient& client, Command args) {
  return run_on_loop<std::string>(io, [&]() -> asio::awaitable<std::string> {
    Command copy = args;
    co_return describe(co_await client.command(std::move(copy)));
  });
}

TEST(ClusterClient, RoutesKeysToTheNodeServingTheirSlot) {
  RedisCluster cluster;
  std::map<uint16_t, std::string> key_by_port;  // one key for each primary
  for (int i = 0; key_by_port.size() < 3; ++i) {
    std::string key = "chaosd:route:" + std::to_string(i);
    key_by_port.emplace(cluster.owner_of(key_hash_slot(key)).port(), key);
  }
  asio::io_context io;
  ClusterClient client(io.get_executor(), seeds_of(cluster), base_options());
  long long keys_seen = 0;
  int primaries_seen = 0;
  auto log = run_on_loop<std::string>(io, [&]() -> asio::awaitable<std::string> {
    std::string out = describe(co_await client.start());
    for (const auto& [port, key] : key_by_port) {
      out += " " + describe(co_await client.call("SET", key, "v-" + key));
    }
    out += " " + describe(co_await client.call("SET", "{user1000}.following", "a"));
    out += " " + describe(co_await client.call("SET", "{user1000}.followers", "b"));
    ClusterClient::PrimaryVisitor count_keys =
        [&](const ClusterNode&, RedisConnection& conn) -> asio::awaitable<Status> {
      auto size = co_await conn.call("DBSIZE");
      if (!size) co_return size.error();
      keys_seen += size->integer();
      ++primaries_seen;
      co_return Ok{};
    };
    out += " " + describe(co_await client.for_each_primary(std::move(count_keys)));
    co_return out;
  });
  EXPECT_EQ(log, "ok ok:OK ok:OK ok:OK ok:OK ok:OK ok");
  for (const auto& [port, key] : key_by_port) {
    // Read straight from the node: a key stored anywhere else would answer MOVED, not the value.
    EXPECT_EQ(cluster.by_port(port).cli({"GET", key}), "v-" + key);
    EXPECT_EQ(client.node_for_slot(key_hash_slot(key))->port, port);
  }
  RedisServer& tag_owner = cluster.owner_of(key_hash_slot("{user1000}"));
  EXPECT_EQ(tag_owner.cli({"MGET", "{user1000}.following", "{user1000}.followers"}), "a\nb");
  EXPECT_EQ(primaries_seen, 3);
  EXPECT_EQ(keys_seen, 5);
  EXPECT_EQ(client.counters().moved + client.counters().ask, 0u);
  auto nodes = client.nodes();
  EXPECT_EQ(nodes.size(), 6u);
  EXPECT_EQ(std::count_if(nodes.begin(), nodes.end(), [](auto& n) { return n.primary; }), 3);

  // Both parsers must agree on what the real server says.
  ConnectionOptions direct = base_options();
  direct.port = cluster.server(0).port();
  std::string slots_error;
  auto slots =
      run_on_loop<std::optional<Reply>>(io, [&]() -> asio::awaitable<std::optional<Reply>> {
        auto executor = co_await asio::this_coro::executor;
        RedisConnection conn(executor, direct);
        auto reply = co_await conn.call("CLUSTER", "SLOTS");
        if (!reply) slots_error = reply.error().describe();
        co_return reply ? std::optional<Reply>(reply.value()) : std::nullopt;
      });
  ASSERT_TRUE(slots) << slots_error;
  auto from_slots = parse_cluster_slots(*slots, "127.0.0.1");
  ASSERT_TRUE(from_slots) << from_slots.error().describe();
  EXPECT_EQ(from_slots->covered_slots(), 16384u);
  for (uint16_t slot = 0; slot < kClusterSlots; slot += 97) {
    EXPECT_EQ(from_slots->primary_for_slot(slot)->address(),
              client.slot_map().primary_for_slot(slot)->address());
  }
}

TEST(ClusterClient, FollowsAskDuringMigrationAndMovedAfterIt) {
  RedisCluster cluster;
  const std::string key = "chaosd:{mig}:a";
  const std::string sibling = "chaosd:{mig}:b";  // same slot, migrated later
  uint16_t slot = key_hash_slot(key);
  RedisServer& source = cluster.owner_of(slot);
  RedisServer* target = nullptr;
  for (RedisServer* primary : cluster.primaries()) {
    if (primary != &source) target = primary;
  }
  ASSERT_NE(target, nullptr);
  asio::io_context io;
  ClusterClient client(io.get_executor(), seeds_of(cluster), base_options());
  EXPECT_EQ(run(io, client, {"SET", key, "payload"}), "ok:OK");
  EXPECT_EQ(run(io, client, {"SET", sibling, "stays"}), "ok:OK");

  // Halfway: the key already lives on the target, the slot still belongs to the source.
  cluster.begin_migration(slot, source, *target);
  cluster.migrate_key(source, *target, key);
  auto before = client.counters();
  EXPECT_EQ(run(io, client, {"GET", key}), "ok:\"payload\"");
  EXPECT_EQ(client.counters().ask, before.ask + 1);
  EXPECT_EQ(client.counters().moved, before.moved);
  EXPECT_EQ(client.counters().refreshes, before.refreshes);
  EXPECT_EQ(client.node_for_slot(slot)->port, source.port());  // ASK does not touch the map

  // Keys split across both nodes: the server says TRYAGAIN until the migration ends. The client
  // must give up after its bounded tries instead of spinning.
  before = client.counters();
  auto started = std::chrono::steady_clock::now();
  std::string split = run(io, client, {"MGET", key, sibling});
  auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_NE(split.find("TRYAGAIN"), std::string::npos) << split;
  EXPECT_NE(split.find("gave up after 5 tries"), std::string::npos) << split;
  EXPECT_EQ(client.counters().try_again, before.try_again + 5);
  EXPECT_LT(elapsed, 2s);

  // Done: the source now answers MOVED; the client must learn the new owner and succeed.
  cluster.migrate_key(source, *target, sibling);
  cluster.finish_migration(slot, source, *target);
  before = client.counters();
  EXPECT_EQ(run(io, client, {"MGET", key, sibling}), "ok:[\"payload\", \"stays\"]");
  EXPECT_EQ(client.counters().moved, before.moved + 1);
  EXPECT_EQ(client.node_for_slot(slot)->port, target->port());
  EXPECT_EQ(run(io, client, {"GET", key}), "ok:\"payload\"");
  EXPECT_EQ(client.counters().moved, before.moved + 1);  // learned: no second redirect
  EXPECT_EQ(target->cli({"GET", key}), "payload");
}

TEST(ClusterClient, SurvivesFailoversAndBoundsClusterDown) {
  RedisCluster cluster;
  const std::string key = "chaosd:failover:k";
  uint16_t slot = key_hash_slot(key);
  RedisServer& old_primary = cluster.owner_of(slot);
  RedisServer& replica = cluster.replica_of(old_primary);
  asio::io_context io;
  ClusterClient client(io.get_executor(), seeds_of(cluster), base_options());
  EXPECT_EQ(run(io, client, {"SET", key, "v1"}), "ok:OK");

  // A manual failover: the old primary answers MOVED from now on.
  cluster.failover(replica);
  auto before = client.counters();
  EXPECT_EQ(run(io, client, {"SET", key, "v2"}), "ok:OK");
  EXPECT_EQ(client.counters().moved, before.moved + 1);
  EXPECT_EQ(client.node_for_slot(slot)->port, replica.port());
  auto roles = run_on_loop<std::string>(io, [&]() -> asio::awaitable<std::string> {
    co_await sleep_for(150ms);  // past the refresh rate limit
    Status refreshed = co_await client.refresh();
    std::string out = describe(refreshed);
    for (const auto& node : client.nodes()) {
      if (node.port == replica.port()) out += node.primary ? " new:primary" : " new:replica";
      if (node.port == old_primary.port()) out += node.primary ? " old:primary" : " old:replica";
    }
    co_return out;
  });
  EXPECT_NE(roles.find("new:primary"), std::string::npos) << roles;
  EXPECT_NE(roles.find("old:replica"), std::string::npos) << roles;

  // A crash: connections fail until the cluster promotes the old primary again (node timeout 2s).
  replica.kill_hard();
  before = client.counters();
  auto recovered = run_on_loop<std::string>(io, [&]() -> asio::awaitable<std::string> {
    std::string last;
    for (int i = 0; i < 150; ++i) {
      last = describe(co_await client.call("SET", key, "v3"));
      if (last == "ok:OK") co_return last;
      co_await sleep_for(100ms);
    }
    co_return "never recovered, last: " + last;
  });
  EXPECT_EQ(recovered, "ok:OK");
  EXPECT_GT(client.counters().connection_errors, before.connection_errors);
  EXPECT_EQ(client.node_for_slot(slot)->port, old_primary.port());
  EXPECT_EQ(old_primary.cli({"GET", key}), "v3");

  // Nobody serves the slot: CLUSTERDOWN is retried a bounded number of times, then returned.
  cluster.unassign_slot(slot);
  before = client.counters();
  auto started = std::chrono::steady_clock::now();
  std::string down = run(io, client, {"GET", key});
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  EXPECT_NE(down.find("CLUSTERDOWN"), std::string::npos) << down;
  EXPECT_EQ(client.counters().cluster_down, before.cluster_down + 5);
}

TEST(ClusterClient, ReportsAServerWithoutClusterSupport) {
  RedisServer server;  // a single cluster-less server: cheap, no cluster needed
  asio::io_context io;
  ClusterClient client(io.get_executor(), {ClusterEndpoint{"127.0.0.1", server.port()}},
                       base_options());
  auto started = run_on_loop<std::string>(
      io, [&]() -> asio::awaitable<std::string> { co_return describe(co_await client.start()); });
  EXPECT_NE(started.find("cluster support disabled"), std::string::npos) << started;
  EXPECT_EQ(run(io, client, {"GET", "k"}).rfind("redis error:", 0), 0u);
}

TEST(ClusterClient, CanBeDestroyedWithACommandInFlight) {
  RedisServer server;
  server.pause();  // CLUSTER SHARDS will hang until its deadline
  asio::io_context io;
  auto options = base_options();
  options.command_timeout = 300ms;
  auto client = std::make_unique<ClusterClient>(
      io.get_executor(), std::vector<ClusterEndpoint>{{"127.0.0.1", server.port()}}, options);
  std::string result;
  auto get = [&]() -> asio::awaitable<void> {
    result = describe(co_await client->call("GET", "k"));
  };
  asio::co_spawn(io, get(), asio::detached);
  io.run_for(100ms);
  EXPECT_EQ(result, "");
  client.reset();  // ASan checks that nothing touches the dead client afterwards
  for (int i = 0; i < 40 && result.empty(); ++i) io.run_for(50ms);
  server.resume();
  EXPECT_EQ(result, "cancelled:cluster client destroyed");
}

}  // namespace
}  // namespace chaosd
