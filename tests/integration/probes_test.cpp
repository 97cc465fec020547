// The probes against a real redis-server: what they measure on a healthy server, how they fail on
// a dead one, and that they leave no key behind.

#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include "daemon/probe_runner.h"
#include "probes/registry.h"
#include "tests/support/loop.h"
#include "tests/support/probe_harness.h"
#include "tests/support/redis_server.h"

namespace chaosd {
namespace {
namespace asio = boost::asio;
using test::RedisServer;
using namespace std::chrono_literals;

using test::measured;
using test::not_applicable;
using test::options_for;
using test::probe_config;
using test::topology_for;

// Runs one probe run plus its cleanup, as the daemon would, and returns the run.
ProbeRun run_probe(const RedisServer& server, const ProbeConfig& config,
                   std::optional<TargetConfig> topology_override = std::nullopt) {
  auto outcome = test::run_probe_once(config, topology_override.value_or(topology_for(server)),
                                      options_for(server));
  EXPECT_TRUE(outcome.cleaned);
  return outcome.run;
}

TEST(TtlProbe, MeasuresExpiryOnAHealthyServerAndLeavesNoKeys) {
  RedisServer server;
  auto run = run_probe(server, probe_config("ttl", "keys = 6, ttl = \"400ms\", margin = \"50ms\""));
  ASSERT_TRUE(run.ok) << (run.result.errors.empty() ? "" : run.result.errors.front());
  // Correctness, not speed: Redis must hide every key after its deadline and show it before.
  EXPECT_EQ(measured(run.result, "expiry_accuracy_ratio"), 1.0);
  auto timing = measured(run.result, "expiry_timing_error_seconds");
  ASSERT_TRUE(timing.has_value());
  EXPECT_GE(*timing, 0.0);
  // Untouched keys are deleted by Redis' active expiry and announced by keyspace events.
  EXPECT_EQ(measured(run.result, "expired_reclaim_ratio"), 1.0);
  EXPECT_TRUE(run.result.notes.empty());
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(TtlProbe, WithoutKeyspaceNotificationsSaysSoInsteadOfGuessing) {
  RedisServer server({"--notify-keyspace-events", ""});
  auto run = run_probe(server, probe_config("ttl", "keys = 4, ttl = \"300ms\", margin = \"50ms\""));
  EXPECT_TRUE(run.ok);
  EXPECT_FALSE(measured(run.result, "expired_reclaim_ratio").has_value());
  EXPECT_TRUE(not_applicable(run.result, "expired_reclaim_ratio"));
  ASSERT_EQ(run.result.notes.size(), 1u);
  EXPECT_NE(run.result.notes[0].find("notify-keyspace-events"), std::string::npos);
  EXPECT_TRUE(measured(run.result, "expiry_accuracy_ratio").has_value());
}

TEST(TtlProbe, DetectsExpiredKeysThatAreNeverReclaimed) {
  RedisServer server;
  // With active expiry off, keys nobody reads stay in memory after their deadline.
  ASSERT_EQ(server.cli({"DEBUG", "SET-ACTIVE-EXPIRE", "0"}), "OK");
  auto run = run_probe(server, probe_config("ttl",
                                            "keys = 4, ttl = \"200ms\", margin = \"50ms\", "
                                            "reclaim_window = \"500ms\""));
  EXPECT_EQ(measured(run.result, "expired_reclaim_ratio"), 0.0);
  // Logical expiry still holds: reads never see an expired key.
  EXPECT_EQ(measured(run.result, "expiry_accuracy_ratio"), 1.0);
}

TEST(LatencyProbe, MeasuresEveryCommandAndCleansUp) {
  RedisServer server;
  auto run = run_probe(server, probe_config("latency", "samples = 5"));
  ASSERT_TRUE(run.ok);
  EXPECT_EQ(measured(run.result, "availability_ratio"), 1.0);
  for (const char* name : {"ping_latency_seconds", "set_latency_seconds", "get_latency_seconds",
                           "max_latency_seconds"}) {
    auto v = measured(run.result, name);
    ASSERT_TRUE(v.has_value()) << name;
    EXPECT_GT(*v, 0.0) << name;
  }
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(LatencyProbe, ReportsADeadServerAsAFailedRun) {
  RedisServer server;
  server.kill_hard();
  auto config = probe_config("latency", "samples = 3");
  asio::io_context io;
  SystemClock clock;
  ProbeRunner runner(
      io.get_executor(), config, find_probe_type("latency")->create(config, "probes[0].params"),
      topology_for(server), options_for(server), "chaosd", clock, [](const ProbeRun&) {});
  auto run = test::run_on_loop<ProbeRun>(
      io, [&]() -> asio::awaitable<ProbeRun> { co_return co_await runner.run_once(); });
  EXPECT_FALSE(run.ok);
  EXPECT_EQ(measured(run.result, "availability_ratio"), 0.0);
  ASSERT_FALSE(run.result.errors.empty());
  EXPECT_NE(run.result.errors[0].find("connect"), std::string::npos) << run.result.errors[0];
}

TEST(ReplicationProbe, FindsReplicasThroughInfoAndMeasuresEach) {
  RedisServer primary;
  RedisServer replica({"--replicaof", "127.0.0.1", std::to_string(primary.port())});
  primary.wait_for_replica(replica);
  TargetConfig topology = topology_for(primary);
  topology.kind = TargetKind::replicated;  // no replicas listed: INFO replication finds them
  auto run = run_probe(primary, probe_config("replication", ""), topology);
  ASSERT_TRUE(run.ok) << (run.result.errors.empty() ? "" : run.result.errors.front());
  EXPECT_EQ(measured(run.result, "convergence_ratio"), 1.0);
  // Lag and convergence, then conflict resolution and divergence: not applicable, one writer.
  ASSERT_EQ(run.result.measurements.size(), 4u);
  EXPECT_TRUE(not_applicable(run.result, "conflict_resolution_seconds"));
  EXPECT_TRUE(not_applicable(run.result, "divergent_regions_total"));
  const Measurement& lag = run.result.measurements.front();
  EXPECT_EQ(lag.name, "replication_lag_seconds");
  EXPECT_EQ(lag.subject, replica.address());
  EXPECT_GE(lag.value, 0.0);
  EXPECT_EQ(primary.count_keys("chaosd:*"), 0);
}

TEST(ReplicationProbe, AReplicaThatStopsFollowingHasNotConverged) {
  RedisServer primary;
  RedisServer stray;  // a "replica" that never replicates
  TargetConfig topology = topology_for(primary);
  topology.kind = TargetKind::replicated;
  topology.replicas = {{"127.0.0.1", stray.port()}};
  auto run = run_probe(primary, probe_config("replication", "max_wait = \"200ms\""), topology);
  EXPECT_EQ(measured(run.result, "convergence_ratio"), 0.0);
  EXPECT_FALSE(measured(run.result, "replication_lag_seconds").has_value());
  ASSERT_EQ(run.result.notes.size(), 1u);
  EXPECT_NE(run.result.notes[0].find("did not show the heartbeat"), std::string::npos);
}

TEST(ReplicationProbe, AStandaloneTargetHasNothingToMeasure) {
  RedisServer server;
  auto run = run_probe(server, probe_config("replication", ""));
  EXPECT_FALSE(run.ok);
  ASSERT_FALSE(run.result.errors.empty());
  EXPECT_NE(run.result.errors[0].find("no replica"), std::string::npos);
}

TEST(ProbeRunner, CancelsARunThatOverrunsItsTimeoutAndStillCleansUp) {
  RedisServer server;
  auto config = probe_config("ttl", "keys = 4, ttl = \"2s\"");
  config.timeout = 200ms;
  auto run = run_probe(server, config);
  EXPECT_TRUE(run.timed_out);
  EXPECT_FALSE(run.ok);
  ASSERT_FALSE(run.result.errors.empty());
  EXPECT_NE(run.result.errors[0].find("timed out"), std::string::npos);
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

}  // namespace
}  // namespace chaosd
