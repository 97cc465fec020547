// The durability probe against real redis-server processes: nothing is lost on a healthy server,
// replica or cluster; keys deleted behind its back, a restart of a server without persistence and
// a replica that stops replicating are reported as lost writes, counted exactly; a write that
// timed out on a paused server and was applied afterwards is a phantom. Bad params are config
// errors, a cancelled run ends at once, and no keys are left behind.

#include <gtest/gtest.h>

#include <atomic>
#include <iostream>
#include <sstream>
#include <thread>

#include "probes/durability.h"
#include "tests/support/probe_harness.h"
#include "tests/support/redis_cluster.h"
#include "tests/support/redis_server.h"

namespace chaosd {
namespace {
using test::RedisServer;
using namespace std::chrono_literals;

using test::first_error;
using test::measured;
using test::options_for;
using test::topology_for;

const std::string kWrites = "chaosd:{durability}:w:*";

ProbeConfig durability_config(const std::string& params_toml) {
  return test::probe_config("durability", params_toml);
}

/// The value of `name` for `subject` (a replica); nullopt when absent or not applicable.
std::optional<double> measured_for(const ProbeResult& result, const std::string& name,
                                   const std::string& subject) {
  for (const auto& m : result.measurements) {
    if (m.name == name && m.subject == subject && m.applicable()) return m.value;
  }
  return std::nullopt;
}

// What the run measured, on stdout (the numbers seen on this machine).
void print(const ProbeRun& run) {
  for (const auto& m : run.result.measurements) {
    std::cout << "  " << m.name << (m.subject.empty() ? "" : "{" + m.subject + "}") << " = "
              << (m.applicable() ? std::to_string(m.value) : "n/a: " + m.na_reason) << "\n";
  }
  for (const auto& e : run.result.errors) std::cout << "  error: " << e << "\n";
  for (const auto& n : run.result.notes) std::cout << "  note: " << n << "\n";
}

ProbeRun run_durability(const TargetConfig& topology, const ConnectionOptions& options,
                        const ProbeConfig& config,
                        std::optional<Duration> runner_timeout = std::nullopt) {
  auto outcome =
      test::run_probe_once(config, topology, options, /*stop_after=*/true, runner_timeout);
  EXPECT_TRUE(outcome.cleaned);
  print(outcome.run);
  return outcome.run;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

/// Blocks until the probe's write phase on `server` is over: its keys exist and their number has
/// not changed for 200 ms. Returns that number (0 if it never happened within 5 s).
long long wait_for_write_phase_end(const RedisServer& server) {
  long long last = -1;
  auto stable_since = std::chrono::steady_clock::now();
  auto deadline = stable_since + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    long long now = server.count_keys(kWrites);
    if (now != last) {
      last = now;
      stable_since = std::chrono::steady_clock::now();
    } else if (now > 0 && std::chrono::steady_clock::now() - stable_since >= 200ms) {
      return now;
    }
    std::this_thread::sleep_for(20ms);
  }
  return 0;
}

TEST(DurabilityProbe, AHealthyServerLosesNothing) {
  RedisServer server;
  auto run = run_durability(topology_for(server), options_for(server),
                            durability_config("duration = \"300ms\", settle = \"50ms\""));
  ASSERT_TRUE(run.ok) << first_error(run);
  auto acked = measured(run.result, "acked_writes_total");
  ASSERT_TRUE(acked.has_value());
  EXPECT_GT(*acked, 10);
  EXPECT_EQ(measured(run.result, "unacked_writes_total"), 0.0);
  EXPECT_EQ(measured(run.result, "lost_writes_total"), 0.0);
  EXPECT_EQ(measured(run.result, "phantom_writes_total"), 0.0);
  EXPECT_EQ(measured(run.result, "lost_write_ratio"), 0.0);
  EXPECT_TRUE(run.result.notes.empty()) << run.result.notes.front();
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(DurabilityProbe, KeysDeletedBehindItsBackAreLostWrites) {
  RedisServer server;
  // A long settle leaves time to delete keys between the write phase and the read-back.
  long long written = 0;
  long long ttl_ms = 0;
  std::string deleted;
  std::thread saboteur([&] {
    written = wait_for_write_phase_end(server);
    auto keys = lines(server.cli({"KEYS", kWrites}));
    if (keys.size() < 7) return;
    ttl_ms = std::stoll(server.cli({"PTTL", keys[0]}));
    std::vector<std::string> del = {"DEL"};
    del.insert(del.end(), keys.begin(), keys.begin() + 7);
    deleted = server.cli(del);
  });
  auto run = run_durability(topology_for(server), options_for(server),
                            durability_config("duration = \"300ms\", settle = \"1500ms\", "
                                              "key_ttl = \"30s\""));
  saboteur.join();
  ASSERT_TRUE(run.ok) << first_error(run);
  ASSERT_EQ(deleted, "7");
  EXPECT_GT(ttl_ms, 20'000);  // every write carries key_ttl
  EXPECT_LE(ttl_ms, 30'000);
  auto acked = measured(run.result, "acked_writes_total");
  ASSERT_TRUE(acked.has_value());
  EXPECT_GE(*acked, static_cast<double>(written));
  EXPECT_EQ(measured(run.result, "lost_writes_total"), 7.0);
  EXPECT_EQ(measured(run.result, "phantom_writes_total"), 0.0);
  EXPECT_DOUBLE_EQ(*measured(run.result, "lost_write_ratio"), 7.0 / *acked);
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(DurabilityProbe, ARestartWithoutPersistenceLosesEveryAcknowledgedWrite) {
  RedisServer server;  // --save "" --appendonly no: a restart starts empty
  long long written = 0;
  std::thread crash([&] {
    written = wait_for_write_phase_end(server);
    server.kill_hard();
    server.start();  // same port
  });
  auto run = run_durability(topology_for(server), options_for(server),
                            durability_config("duration = \"300ms\", settle = \"1500ms\""));
  crash.join();
  ASSERT_TRUE(run.ok) << first_error(run);
  ASSERT_GT(written, 0);
  auto acked = measured(run.result, "acked_writes_total");
  ASSERT_TRUE(acked.has_value());
  EXPECT_GE(*acked, static_cast<double>(written));
  EXPECT_EQ(measured(run.result, "lost_writes_total"), *acked);
  EXPECT_EQ(measured(run.result, "lost_write_ratio"), 1.0);
  EXPECT_EQ(measured(run.result, "phantom_writes_total"), 0.0);
  bool restart_noted = false;
  for (const auto& note : run.result.notes) {
    restart_noted = restart_noted || note.find("run_id changed") != std::string::npos;
  }
  EXPECT_TRUE(restart_noted);
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(DurabilityProbe, AWriteThatTimedOutOnAPausedServerAndAppliedLaterIsAPhantom) {
  RedisServer server;
  ConnectionOptions options = options_for(server);
  options.command_timeout = 100ms;
  std::atomic<bool> paused{false};
  std::thread pauser([&] {
    for (int i = 0; i < 250 && server.count_keys(kWrites) < 20; ++i) {
      std::this_thread::sleep_for(10ms);
    }
    server.pause();  // the SET in flight stays in the socket: it times out unacknowledged
    paused = true;
    std::this_thread::sleep_for(400ms);
    server.resume();  // ... and then runs
  });
  auto run = run_durability(topology_for(server), options,
                            durability_config("duration = \"1500ms\", settle = \"100ms\", "
                                              "replica_wait = \"10ms\""));
  pauser.join();
  ASSERT_TRUE(paused);
  ASSERT_TRUE(run.ok) << first_error(run);
  auto unacked = measured(run.result, "unacked_writes_total");
  ASSERT_TRUE(unacked.has_value());
  EXPECT_GE(*unacked, 1.0);
  auto phantoms = measured(run.result, "phantom_writes_total");
  ASSERT_TRUE(phantoms.has_value());
  EXPECT_GE(*phantoms, 1.0);
  EXPECT_LE(*phantoms, *unacked);
  EXPECT_EQ(measured(run.result, "lost_writes_total"), 0.0);
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TargetConfig replicated_topology(const RedisServer& primary, const RedisServer& replica) {
  TargetConfig topology = topology_for(primary);
  topology.kind = TargetKind::replicated;
  topology.replicas = {{"127.0.0.1", replica.port()}};
  return topology;
}

void wait_for_sync(const RedisServer& replica) {
  for (int i = 0; i < 200 && replica.cli({"INFO", "replication"}).find("master_link_status:up") ==
                                 std::string::npos;
       ++i) {
    std::this_thread::sleep_for(25ms);
  }
}

TEST(DurabilityProbe, AReplicaHasEveryAcknowledgedWrite) {
  RedisServer primary;
  RedisServer replica({"--replicaof", "127.0.0.1", std::to_string(primary.port())});
  wait_for_sync(replica);
  auto run = run_durability(replicated_topology(primary, replica), options_for(primary),
                            durability_config("duration = \"300ms\", settle = \"10ms\""));
  ASSERT_TRUE(run.ok) << first_error(run);
  EXPECT_EQ(measured_for(run.result, "lost_writes_total", ""), 0.0);
  EXPECT_EQ(measured_for(run.result, "lost_writes_total", replica.address()), 0.0);
  EXPECT_EQ(measured_for(run.result, "phantom_writes_total", replica.address()), 0.0);
  EXPECT_EQ(measured_for(run.result, "lost_write_ratio", replica.address()), 0.0);
  EXPECT_EQ(primary.count_keys("chaosd:*"), 0);
  // The deletes replicate too.
  for (int i = 0; i < 100 && replica.count_keys("chaosd:*") > 0; ++i) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(replica.count_keys("chaosd:*"), 0);
}

TEST(DurabilityProbe, AReplicaThatStoppedReplicatingAndLostKeysIsReported) {
  RedisServer primary;
  RedisServer replica({"--replicaof", "127.0.0.1", std::to_string(primary.port())});
  wait_for_sync(replica);
  std::string deleted;
  std::thread detach([&] {
    wait_for_write_phase_end(primary);
    // Let the replica catch up, then cut it off and lose five writes on it alone.
    for (int i = 0; i < 100 && replica.count_keys(kWrites) < primary.count_keys(kWrites); ++i) {
      std::this_thread::sleep_for(20ms);
    }
    replica.cli({"REPLICAOF", "NO", "ONE"});
    auto keys = lines(replica.cli({"KEYS", kWrites}));
    if (keys.size() < 5) return;
    std::vector<std::string> del = {"DEL"};
    del.insert(del.end(), keys.begin(), keys.begin() + 5);
    deleted = replica.cli(del);
  });
  auto run = run_durability(replicated_topology(primary, replica), options_for(primary),
                            durability_config("duration = \"300ms\", settle = \"2s\", "
                                              "replica_wait = \"300ms\""));
  detach.join();
  ASSERT_TRUE(run.ok) << first_error(run);
  ASSERT_EQ(deleted, "5");
  EXPECT_EQ(measured_for(run.result, "lost_writes_total", ""), 0.0);
  EXPECT_EQ(measured_for(run.result, "lost_writes_total", replica.address()), 5.0);
  auto acked = measured(run.result, "acked_writes_total");
  ASSERT_TRUE(acked.has_value());
  EXPECT_DOUBLE_EQ(*measured_for(run.result, "lost_write_ratio", replica.address()), 5.0 / *acked);
  EXPECT_EQ(primary.count_keys("chaosd:*"), 0);
}

TEST(DurabilityProbe, OnAClusterThePrimaryAndItsReplicaKeepEveryWrite) {
  test::RedisCluster cluster;
  TargetConfig topology = test::cluster_topology_for(cluster.server(0));
  ConnectionOptions options;
  options.port = topology.port;
  auto config = durability_config("duration = \"300ms\", settle = \"10ms\"");
  config.target = "cluster";
  auto run = run_durability(topology, options, config);
  ASSERT_TRUE(run.ok) << first_error(run);
  EXPECT_GT(*measured(run.result, "acked_writes_total"), 10);
  int replicas_checked = 0;
  for (const auto& m : run.result.measurements) {
    if (m.name != "lost_writes_total") continue;
    ASSERT_TRUE(m.applicable()) << m.subject << ": " << m.na_reason;
    EXPECT_EQ(m.value, 0.0) << m.subject;
    if (!m.subject.empty()) ++replicas_checked;
  }
  EXPECT_EQ(replicas_checked, 1);  // the replica of the shard serving the probe's slot (READONLY)
  for (size_t i = 0; i < cluster.size(); ++i) {
    EXPECT_EQ(cluster.server(i).count_keys("chaosd:*"), 0) << i;
  }
}

TEST(DurabilityProbe, NoAcknowledgedWriteIsAFailedRun) {
  RedisServer server;
  server.kill_hard();
  auto outcome = test::run_probe_once(durability_config("duration = \"100ms\""),
                                      topology_for(server), options_for(server),
                                      /*stop_after=*/false);
  const ProbeRun& run = outcome.run;
  EXPECT_FALSE(run.ok);
  EXPECT_FALSE(run.timed_out);
  ASSERT_FALSE(run.result.errors.empty());
  EXPECT_EQ(measured(run.result, "acked_writes_total"), 0.0);
  EXPECT_FALSE(measured(run.result, "lost_writes_total").has_value());
}

TEST(DurabilityProbe, ACancelledRunStopsPromptlyAndLeavesNoKeys) {
  RedisServer server;
  auto run = run_durability(topology_for(server), options_for(server),
                            durability_config("duration = \"5s\""), /*runner_timeout=*/300ms);
  EXPECT_TRUE(run.timed_out);
  EXPECT_FALSE(run.ok);
  EXPECT_LT(run.duration_seconds, 2.0);
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

void expect_rejected(const std::string& params, const std::string& key_path) {
  test::expect_params_rejected(durability_config(params), key_path);
}

TEST(DurabilityProbe, RejectsBadParamsNamingTheKey) {
  expect_rejected("max_writes = 0", "probes[0].params.max_writes");
  expect_rejected("write_interval = \"2s\"", "probes[0].params.write_interval");
  expect_rejected("settle = \"soon\"", "probes[0].params.settle");
  expect_rejected("replica_wait = \"1ms\"", "probes[0].params.replica_wait");
  expect_rejected("writes = 10", "probes[0].params.writes");
  // 8 s of writes + 1 s of read retries + 2 s of replica wait cannot fit in the 10 s timeout.
  expect_rejected("duration = \"8s\"", "probes[0].params.duration");
  // Keys would expire before the end of a run that takes up to its timeout.
  expect_rejected("key_ttl = \"10s\"", "probes[0].params.key_ttl");
  EXPECT_NO_THROW(durability_probe_type().create(durability_config(""), "probes[0].params"));
}

}  // namespace
}  // namespace chaosd
