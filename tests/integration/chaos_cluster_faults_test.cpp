// reshard, failover and flush_namespace against real redis-server processes (a 3x2 cluster, a
// standalone node): the injected effect is visible (slots moved, roles swapped, keys gone) and
// revert restores the exact prior state (slot owners, roles, keys, values and TTLs), also when it
// runs twice or on a fault rebuilt from its record alone. Then the topology interlocks of the
// FaultSupervisor against a real cluster: one fault per shard, no node_kill that loses a shard's
// replica or the cluster's majority, no reshard while a slot migrates; a refused fault leaves
// nothing behind.

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <filesystem>
#include <map>

#include "chaos/cluster_view.h"
#include "chaos/fault_supervisor.h"
#include "chaos/faults/failover.h"
#include "chaos/faults/flush_namespace.h"
#include "chaos/faults/reshard.h"
#include "chaos/journal.h"
#include "daemon/redis/crc16.h"
#include "tests/integration/chaos_test_support.h"
#include "tests/support/redis_cluster.h"
#include "tests/support/temp_dir.h"

namespace chaosd {
namespace {
using namespace std::chrono_literals;
using test::config_value;
using test::context_for;
using test::FaultStep;
using test::make_fault;
using test::prepare_and_inject;
using test::RedisCluster;
using test::RedisServer;
using test::run_on_loop;
using test::run_step;
namespace asio = boost::asio;

FaultContext cluster_context(asio::io_context& io, const RedisServer& node) {
  FaultContext ctx = context_for(io, node);
  ctx.target = "cluster";
  ctx.cluster = true;
  ctx.connection.command_timeout = 3s;
  return ctx;
}

uint16_t port_of(const std::string& address) { return split_address(address)->second; }

// The n-th key (n = 0, 1, ...) that hashes to `slot`.
std::string key_in_slot(uint16_t slot, int n) {
  int found = 0;
  for (int i = 0; i < 10'000'000; ++i) {
    std::string key = "chaos-test:" + std::to_string(i);
    if (key_hash_slot(key) != slot) continue;
    if (found++ == n) return key;
  }
  throw std::runtime_error("no key for slot " + std::to_string(slot));
}

ClusterView view_of(const RedisServer& node) {
  auto view = parse_cluster_nodes(node.cli({"CLUSTER", "NODES"}));
  if (!view) throw std::runtime_error(view.error().message);
  return view.value();
}

// Slots in flight as every primary tells of itself; empty when none.
std::string slots_in_flight(RedisCluster& cluster) {
  std::string out;
  for (RedisServer* primary : cluster.primaries()) {
    ClusterView view = view_of(*primary);
    for (const auto& line : view.slots_in_flight()) {
      if (view.by_address(primary->address())->myself) out += line + "; ";
    }
  }
  return out;
}

// address -> number of slots, as `viewer` sees it.
std::map<std::string, size_t> slot_counts(const RedisServer& viewer) {
  std::map<std::string, size_t> out;
  const ClusterView view = view_of(viewer);
  for (const auto& node : view.nodes) {
    if (node.primary) out[node.address] = node.slots.size();
  }
  return out;
}

std::string role_of(const RedisServer& server) {
  std::string reply = server.cli({"ROLE"});
  return reply.substr(0, reply.find('\n'));
}

bool wait_for(const std::function<bool()>& done, std::chrono::seconds limit = 15s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

TEST(ChaosClusterFaults, ReshardMovesSlotsAndRevertMovesExactlyThoseBack) {
  RedisCluster cluster;
  asio::io_context io;
  auto ctx = cluster_context(io, *cluster.primaries()[0]);
  ctx.fault_id = "f-reshard-1";
  ctx.duration = 60s;
  auto fault = make_fault("reshard", {{"slots", 3}});
  ASSERT_EQ(run_step(io, *fault, ctx, FaultStep::prepare), "");
  const auto moves = dynamic_cast<ReshardFault&>(*fault).moves();
  ASSERT_EQ(moves.size(), 3u);
  const auto counts_before = slot_counts(cluster.server(0));
  std::map<std::string, std::string> values;
  for (const auto& move : moves) {
    EXPECT_EQ(cluster.owner_of(move.slot).address(), move.from);
    EXPECT_NE(move.to, move.from);
    for (int i = 0; i < 3; ++i) {
      std::string key = key_in_slot(move.slot, i);
      values[key] = "value-" + key;
      ASSERT_EQ(cluster.by_port(port_of(move.from)).cli({"SET", key, values[key]}), "OK");
    }
  }

  ASSERT_EQ(run_step(io, *fault, ctx, FaultStep::inject), "");
  cluster.wait_until_stable();
  for (const auto& move : moves) {
    EXPECT_EQ(cluster.owner_of(move.slot).address(), move.to) << move.slot;
  }
  for (const auto& [key, value] : values) {
    EXPECT_EQ(cluster.by_port(port_of(moves[0].to)).cli({"GET", key}), value);
  }
  auto counts_during = slot_counts(cluster.server(0));
  EXPECT_EQ(counts_during[moves[0].from], counts_before.at(moves[0].from) - 3);
  EXPECT_EQ(counts_during[moves[0].to], counts_before.at(moves[0].to) + 3);

  ASSERT_EQ(run_step(io, *fault, ctx, FaultStep::revert), "");
  cluster.wait_until_stable();
  EXPECT_EQ(slot_counts(cluster.server(0)), counts_before);
  for (const auto& move : moves) {
    EXPECT_EQ(cluster.owner_of(move.slot).address(), move.from) << move.slot;
  }
  for (const auto& [key, value] : values) {
    EXPECT_EQ(cluster.by_port(port_of(moves[0].from)).cli({"GET", key}), value);
  }
  EXPECT_EQ(slots_in_flight(cluster), "");

  // Idempotent, and the same from the record alone (as after a daemon restart).
  ASSERT_EQ(run_step(io, *fault, ctx, FaultStep::revert), "");
  auto rebuilt = restore_fault(fault->record());
  ASSERT_TRUE(rebuilt) << rebuilt.error().message;
  ASSERT_EQ(run_step(io, *rebuilt.value(), ctx, FaultStep::revert), "");
  EXPECT_EQ(slot_counts(cluster.server(0)), counts_before);
}

TEST(ChaosClusterFaults, ReshardRevertFromTheRecordFinishesAMoveInterruptedHalfway) {
  RedisCluster cluster;
  asio::io_context io;
  auto ctx = cluster_context(io, *cluster.primaries()[0]);
  ctx.fault_id = "f-reshard-2";
  ctx.duration = 60s;
  auto fault = make_fault("reshard", {{"slots", 1}});
  ASSERT_EQ(run_step(io, *fault, ctx, FaultStep::prepare), "");
  const PlannedSlotMove move = dynamic_cast<ReshardFault&>(*fault).moves().at(0);
  RedisServer& from = cluster.by_port(port_of(move.from));
  RedisServer& to = cluster.by_port(port_of(move.to));
  std::vector<std::string> keys;
  for (int i = 0; i < 3; ++i) {
    keys.push_back(key_in_slot(move.slot, i));
    ASSERT_EQ(from.cli({"SET", keys.back(), "v" + std::to_string(i)}), "OK");
  }
  // The daemon died in the middle of inject: the slot is in flight, one key already moved.
  const nlohmann::json record = fault->record();
  fault.reset();
  cluster.begin_migration(move.slot, from, to);
  cluster.migrate_key(from, to, keys[0]);
  ASSERT_NE(slots_in_flight(cluster), "");

  auto rebuilt = restore_fault(record);
  ASSERT_TRUE(rebuilt) << rebuilt.error().message;
  ASSERT_EQ(run_step(io, *rebuilt.value(), ctx, FaultStep::revert), "");
  cluster.wait_until_stable();
  EXPECT_EQ(slots_in_flight(cluster), "");
  EXPECT_EQ(cluster.owner_of(move.slot).address(), move.from);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(from.cli({"GET", keys[i]}), "v" + std::to_string(i));
  ASSERT_EQ(run_step(io, *rebuilt.value(), ctx, FaultStep::revert), "");
  EXPECT_EQ(cluster.owner_of(move.slot).address(), move.from);
}

TEST(ChaosClusterFaults, FailoverSwapsTheShardsRolesAndRevertFailsBack) {
  RedisCluster cluster;
  RedisServer& primary = cluster.owner_of(0);
  RedisServer& replica = cluster.replica_of(primary);
  asio::io_context io;
  auto ctx = cluster_context(io, primary);
  ctx.fault_id = "f-failover-1";
  ctx.duration = 60s;
  auto fault = make_fault("failover", nlohmann::json::object());
  ASSERT_EQ(prepare_and_inject(io, *fault, ctx), "");
  const auto& state = dynamic_cast<FailoverFault&>(*fault).state();
  EXPECT_EQ(state.primary, primary.address());
  EXPECT_EQ(state.replica, replica.address());
  EXPECT_EQ(role_of(replica), "master");
  EXPECT_TRUE(wait_for([&] { return role_of(primary) == "slave"; }));
  cluster.wait_until_stable();
  EXPECT_EQ(cluster.owner_of(0).address(), replica.address());

  ASSERT_EQ(run_step(io, *fault, ctx, FaultStep::revert), "");
  EXPECT_EQ(role_of(primary), "master");
  EXPECT_TRUE(wait_for([&] { return role_of(replica) == "slave"; }));
  cluster.wait_until_stable();
  EXPECT_EQ(cluster.owner_of(0).address(), primary.address());
  // The primary lists its replica again once the demotion has spread by gossip.
  EXPECT_TRUE(wait_for([&] {
    try {
      return &cluster.replica_of(primary) == &replica;
    } catch (const std::exception&) {
      return false;
    }
  }));

  ASSERT_EQ(run_step(io, *fault, ctx, FaultStep::revert), "");
  auto rebuilt = restore_fault(fault->record());
  ASSERT_TRUE(rebuilt) << rebuilt.error().message;
  ASSERT_EQ(run_step(io, *rebuilt.value(), ctx, FaultStep::revert), "");
  EXPECT_EQ(role_of(primary), "master");
  EXPECT_EQ(role_of(replica), "slave");
}

TEST(ChaosClusterFaults, FailoverAndReshardRefuseAStandaloneTarget) {
  RedisServer server;
  asio::io_context io;
  auto ctx = context_for(io, server);
  auto failover = make_fault("failover", nlohmann::json::object());
  auto error = run_step(io, *failover, ctx, FaultStep::prepare);
  EXPECT_NE(error.find("cluster targets only"), std::string::npos) << error;
  auto reshard = make_fault("reshard", nlohmann::json::object());
  error = run_step(io, *reshard, ctx, FaultStep::prepare);
  EXPECT_NE(error.find("is not a cluster"), std::string::npos) << error;
  EXPECT_EQ(role_of(server), "master");
  // Revert after a refused prepare changes nothing and succeeds.
  EXPECT_EQ(run_step(io, *failover, ctx, FaultStep::revert), "");
  EXPECT_EQ(run_step(io, *reshard, ctx, FaultStep::revert), "");
}

TEST(ChaosClusterFaults, FlushNamespaceDeletesTheKeysAndRevertRestoresValuesAndTtls) {
  RedisServer server;
  test::TempDir state("chaos-state");
  for (int i = 0; i < 50; ++i) {
    std::string key = "session:" + std::to_string(i);
    ASSERT_EQ(server.cli({"SET", key, "v-" + std::to_string(i)}), "OK");
    if (i % 2 == 0) {
      ASSERT_EQ(server.cli({"PEXPIRE", key, "600000"}), "1");
    }
  }
  ASSERT_EQ(server.cli({"HSET", "session:h", "a", "1", "b", "2"}), "2");
  ASSERT_EQ(server.cli({"RPUSH", "session:l", "x", "y", "z"}), "3");
  for (int i = 0; i < 10; ++i) server.cli({"SET", "other:" + std::to_string(i), "keep"});
  const std::string hash_before = server.cli({"HGETALL", "session:h"});
  const std::string list_before = server.cli({"LRANGE", "session:l", "0", "-1"});

  asio::io_context io;
  auto ctx = context_for(io, server);
  ctx.fault_id = "f-flush-1";
  ctx.duration = 60s;
  ctx.state_dir = (state.path() / "chaos").string();
  auto fault = make_fault("flush_namespace", {{"pattern", "session:*"}});
  ASSERT_EQ(prepare_and_inject(io, *fault, ctx), "");
  auto& flush = dynamic_cast<FlushNamespaceFault&>(*fault);
  EXPECT_EQ(server.count_keys("session:*"), 0);
  EXPECT_EQ(server.count_keys("other:*"), 10);
  EXPECT_EQ(flush.state().keys_deleted, 52);
  EXPECT_EQ(flush.state().keys_snapshotted, 52);
  EXPECT_FALSE(flush.state().truncated);
  const std::string snapshot = flush.state().snapshot_path;
  EXPECT_EQ(snapshot, (state.path() / "chaos" / "snapshots" / "f-flush-1.snapshot").string());
  EXPECT_TRUE(std::filesystem::exists(snapshot));
  // The application writes one key again during the fault: that newer value must survive.
  ASSERT_EQ(server.cli({"SET", "session:5", "newer"}), "OK");

  // From the record alone (the daemon restarted), then again: idempotent.
  auto rebuilt = restore_fault(fault->record());
  ASSERT_TRUE(rebuilt) << rebuilt.error().message;
  ASSERT_EQ(run_step(io, *rebuilt.value(), ctx, FaultStep::revert), "");
  auto& restored = dynamic_cast<FlushNamespaceFault&>(*rebuilt.value());
  EXPECT_EQ(restored.restored(), 51);
  EXPECT_EQ(restored.kept_newer(), 1);
  EXPECT_EQ(server.count_keys("session:*"), 52);
  for (int i = 0; i < 50; ++i) {
    std::string key = "session:" + std::to_string(i);
    EXPECT_EQ(server.cli({"GET", key}), i == 5 ? "newer" : "v-" + std::to_string(i));
    long long ttl = std::stoll(server.cli({"PTTL", key}));
    if (i % 2 == 0 && i != 5) {
      EXPECT_GT(ttl, 500'000) << key;  // the original expiry, not a fresh one nor none
      EXPECT_LE(ttl, 600'000) << key;
    } else {
      EXPECT_EQ(ttl, -1) << key;
    }
  }
  EXPECT_EQ(server.cli({"HGETALL", "session:h"}), hash_before);
  EXPECT_EQ(server.cli({"LRANGE", "session:l", "0", "-1"}), list_before);
  EXPECT_FALSE(std::filesystem::exists(snapshot));
  ASSERT_EQ(run_step(io, *fault, ctx, FaultStep::revert), "");
  EXPECT_EQ(server.count_keys("session:*"), 52);
  EXPECT_EQ(server.cli({"GET", "session:5"}), "newer");
}

TEST(ChaosClusterFaults, FlushNamespaceIsBoundedByMaxKeysAndRefusesOverMaxBytes) {
  RedisServer server;
  test::TempDir state("chaos-state");
  // Values that do not compress: DUMP would shrink a run of one letter to a few bytes.
  uint32_t seed = 12345;
  for (int i = 0; i < 20; ++i) {
    std::string value;
    for (int j = 0; j < 200; ++j) {
      seed = seed * 1103515245 + 12345;
      value.push_back(static_cast<char>('!' + (seed >> 16) % 90));
    }
    ASSERT_EQ(server.cli({"SET", "big:" + std::to_string(i), value}), "OK");
  }
  asio::io_context io;
  auto ctx = context_for(io, server);
  ctx.duration = 60s;
  ctx.state_dir = (state.path() / "chaos").string();

  ctx.fault_id = "f-flush-bytes";
  auto too_big = make_fault("flush_namespace", {{"pattern", "big:*"}, {"max_bytes", "1kb"}});
  auto error = prepare_and_inject(io, *too_big, ctx);
  EXPECT_NE(error.find("max_bytes"), std::string::npos) << error;
  EXPECT_NE(error.find("nothing was deleted"), std::string::npos) << error;
  EXPECT_EQ(server.count_keys("big:*"), 20);
  EXPECT_EQ(run_step(io, *too_big, ctx, FaultStep::revert), "");
  EXPECT_EQ(server.count_keys("big:*"), 20);

  ctx.fault_id = "f-flush-keys";
  auto bounded = make_fault("flush_namespace", {{"pattern", "big:*"}, {"max_keys", 5}});
  ASSERT_EQ(prepare_and_inject(io, *bounded, ctx), "");
  EXPECT_EQ(server.count_keys("big:*"), 15);
  EXPECT_TRUE(dynamic_cast<FlushNamespaceFault&>(*bounded).state().truncated);
  ASSERT_EQ(run_step(io, *bounded, ctx, FaultStep::revert), "");
  EXPECT_EQ(server.count_keys("big:*"), 20);

  // A replica would refuse the deletes and the RESTOREs: refused before anything.
  RedisServer replica({"--replicaof", "127.0.0.1", std::to_string(server.port())});
  server.wait_for_replica(replica);
  auto replica_ctx = context_for(io, replica);
  replica_ctx.state_dir = ctx.state_dir;
  auto on_replica = make_fault("flush_namespace", {{"pattern", "big:*"}});
  error = run_step(io, *on_replica, replica_ctx, FaultStep::prepare);
  EXPECT_NE(error.find("is not a primary"), std::string::npos) << error;
  EXPECT_EQ(replica.count_keys("big:*"), 20);

  // Without a state directory there is nowhere to keep the snapshot: refused before anything.
  ctx.state_dir.clear();
  auto nowhere = make_fault("flush_namespace", {{"pattern", "big:*"}});
  error = run_step(io, *nowhere, ctx, FaultStep::prepare);
  EXPECT_NE(error.find("no state directory"), std::string::npos) << error;
}

// A FaultSupervisor with its journal in a temp dir.
struct Supervised {
  test::TempDir state{"chaos-state"};
  asio::io_context io;
  std::unique_ptr<FaultJournal> journal;
  std::unique_ptr<FaultSupervisor> supervisor;

  explicit Supervised(int max_active_faults) {
    auto opened = FaultJournal::open(state.path());
    if (!opened) throw std::runtime_error(opened.error().message);
    journal = std::move(opened.value());
    supervisor = std::make_unique<FaultSupervisor>(
        io.get_executor(), *journal, SupervisorOptions{.max_active_faults = max_active_faults});
  }
  ~Supervised() {
    if (supervisor) (void)halt();
  }
  std::string inject(std::unique_ptr<Fault> fault, FaultContext context) {
    return run_on_loop<std::string>(
        io,
        [&]() -> asio::awaitable<std::string> {
          FaultRequest request{std::move(fault), std::move(context), 60s, "test"};
          auto id = co_await supervisor->inject(std::move(request));
          co_return id ? id.value() : "error: " + id.error().describe();
        },
        60s);
  }
  std::string halt() {
    return run_on_loop<std::string>(
        io,
        [&]() -> asio::awaitable<std::string> {
          const std::string reason = "test over";
          auto halted = co_await supervisor->halt_all(reason);
          co_return halted ? std::string() : halted.error().describe();
        },
        60s);
  }
};

TEST(ChaosInterlocks, OneFaultPerShardAndNoReshardWhileASlotMigrates) {
  RedisCluster cluster;
  RedisServer& primary_a = cluster.owner_of(0);
  RedisServer& replica_a = cluster.replica_of(primary_a);
  RedisServer& primary_b = cluster.owner_of(16383);
  ASSERT_NE(&primary_a, &primary_b);
  Supervised s(3);
  auto squeeze = [] { return make_fault("memory_pressure", {{"maxmemory", "64mb"}}); };

  auto on_replica = s.inject(squeeze(), cluster_context(s.io, replica_a));
  ASSERT_EQ(on_replica.rfind("f-", 0), 0u) << on_replica;
  auto same_shard = s.inject(squeeze(), cluster_context(s.io, primary_a));
  EXPECT_NE(same_shard.find("conflict"), std::string::npos) << same_shard;
  EXPECT_NE(same_shard.find("one fault per shard"), std::string::npos) << same_shard;
  EXPECT_EQ(config_value(primary_a, "maxmemory"), "0");  // the refused fault touched nothing
  EXPECT_EQ(s.supervisor->active_count(), 1u);
  auto other_shard = s.inject(squeeze(), cluster_context(s.io, primary_b));
  ASSERT_EQ(other_shard.rfind("f-", 0), 0u) << other_shard;
  EXPECT_EQ(config_value(primary_b, "maxmemory"), "67108864");
  // A reshard touches two shards: with both busy it is refused too.
  auto reshard_busy = s.inject(make_fault("reshard", {{"from", primary_a.address()}}),
                               cluster_context(s.io, primary_a));
  EXPECT_NE(reshard_busy.find("one fault per shard"), std::string::npos) << reshard_busy;
  ASSERT_EQ(s.halt(), "");
  s.supervisor->resume();
  EXPECT_EQ(config_value(replica_a, "maxmemory"), "0");

  // A slot in flight (someone else's migration): no reshard until it is over.
  const auto counts_before = slot_counts(cluster.server(0));
  cluster.begin_migration(0, primary_a, primary_b);
  auto migrating =
      s.inject(make_fault("reshard", {{"slots", 2}}), cluster_context(s.io, primary_a));
  EXPECT_NE(migrating.find("conflict"), std::string::npos) << migrating;
  EXPECT_NE(migrating.find("slot migration is under way"), std::string::npos) << migrating;
  EXPECT_NE(migrating.find("slot 0"), std::string::npos) << migrating;
  EXPECT_EQ(s.supervisor->active_count(), 0u);
  EXPECT_EQ(slot_counts(cluster.server(0)), counts_before);                 // nothing moved
  for (const auto& e : s.journal->entries()) EXPECT_NE(e.type, "reshard");  // nor journaled
  // The migration is called off: now the reshard goes through (and back).
  ASSERT_EQ(primary_a.cli({"CLUSTER", "SETSLOT", "0", "STABLE"}), "OK");
  ASSERT_EQ(primary_b.cli({"CLUSTER", "SETSLOT", "0", "STABLE"}), "OK");
  auto allowed = s.inject(make_fault("reshard", {{"slots", 2}}), cluster_context(s.io, primary_a));
  ASSERT_EQ(allowed.rfind("f-", 0), 0u) << allowed;
  ASSERT_EQ(s.halt(), "");
  cluster.wait_until_stable();
  EXPECT_EQ(slot_counts(cluster.server(0)), counts_before);
}

TEST(ChaosInterlocks, NodeKillNeverLeavesAShardWithoutAReplicaNorTheClusterWithoutMajority) {
  RedisCluster cluster;
  test::ServerNodes nodes;
  for (size_t i = 0; i < cluster.size(); ++i) nodes.add(cluster.server(i));
  RedisServer& primary_a = cluster.owner_of(0);
  RedisServer& replica_a = cluster.replica_of(primary_a);
  RedisServer& primary_b = cluster.owner_of(8192);
  RedisServer& primary_c = cluster.owner_of(16383);
  ASSERT_NE(&primary_a, &primary_b);
  ASSERT_NE(&primary_b, &primary_c);
  Supervised s(3);
  auto kill_context = [&](RedisServer& server) { return cluster_context(s.io, server); };
  auto with_nodes = [&](FaultContext ctx) {
    ctx.nodes = &nodes;
    return ctx;
  };

  // Shard A lost its replica (not through chaos): its primary may not be killed.
  replica_a.kill_hard();
  ASSERT_TRUE(wait_for([&] {
    const ClusterView view = view_of(primary_a);
    const ViewNode* seen = view.by_address(replica_a.address());
    return seen != nullptr && seen->failing;
  }));
  auto lonely = s.inject(make_fault("node_kill", nlohmann::json::object()),
                         with_nodes(kill_context(primary_a)));
  EXPECT_NE(lonely.find("conflict"), std::string::npos) << lonely;
  EXPECT_NE(lonely.find("no healthy replica"), std::string::npos) << lonely;
  EXPECT_EQ(primary_a.cli({"PING"}), "PONG");  // not killed
  EXPECT_EQ(s.supervisor->active_count(), 0u);
  replica_a.start();

  // One primary down of three is allowed; a second would lose the majority.
  auto first = s.inject(make_fault("node_kill", nlohmann::json::object()),
                        with_nodes(kill_context(primary_b)));
  ASSERT_EQ(first.rfind("f-", 0), 0u) << first;
  EXPECT_FALSE(primary_b.running());
  auto second = s.inject(make_fault("node_kill", nlohmann::json::object()),
                         with_nodes(kill_context(primary_c)));
  EXPECT_NE(second.find("conflict"), std::string::npos) << second;
  EXPECT_NE(second.find("2 of 3 primaries down"), std::string::npos) << second;
  EXPECT_EQ(primary_c.cli({"PING"}), "PONG");
  EXPECT_EQ(s.supervisor->active_count(), 1u);
  ASSERT_EQ(s.halt(), "");
  EXPECT_TRUE(primary_b.running());
}

}  // namespace
}  // namespace chaosd
