// The lock probe against a real redis-server: what it measures on a healthy server, how its params
// are checked, and that a stalled server makes the run fail or time out without hanging it.

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <iostream>
#include <thread>

#include "daemon/probe_runner.h"
#include "probes/lock.h"
#include "tests/support/loop.h"
#include "tests/support/probe_harness.h"
#include "tests/support/redis_cluster.h"
#include "tests/support/redis_server.h"

namespace chaosd {
namespace {
namespace asio = boost::asio;
using test::RedisServer;
using namespace std::chrono_literals;

using test::first_error;
using test::measured;
using test::options_for;
using test::topology_for;
using Outcome = test::ProbeOutcome;

ProbeConfig lock_config(const std::string& params_toml) {
  return test::probe_config("lock", params_toml);
}

// One run plus its cleanup, as the daemon does it.
Outcome run_lock_probe(const RedisServer& server, const ProbeConfig& config) {
  return test::run_probe_once(config, topology_for(server), options_for(server));
}

// Everything a run said, for the test log: a failing assertion is easier to read next to it.
void print(const ProbeRun& run) {
  for (const auto& m : run.result.measurements)
    std::cout << "  " << m.name << " = " << m.value << "\n";
  for (const auto& e : run.result.errors) std::cout << "  error: " << e << "\n";
  for (const auto& n : run.result.notes) std::cout << "  note: " << n << "\n";
}

TEST(LockProbe, OrderedLocksNeverDeadlockAndTimeoutsResolveACycle) {
  RedisServer server;
  auto outcome =
      run_lock_probe(server, lock_config("workers = 2, duration = \"50ms\", lease = \"1s\", "
                                         "deadlock_timeout = \"200ms\""));
  const ProbeRun& run = outcome.run;
  print(run);
  ASSERT_TRUE(run.ok) << first_error(run);
  EXPECT_EQ(measured(run.result, "ordered_deadlocks_total"), 0.0);
  EXPECT_EQ(measured(run.result, "ordered_completion_ratio"), 1.0);
  // Party 0 gives up only 200 ms after it began to wait, a few ms at most before the cycle
  // closed: the other party cannot get through much sooner. (The 1 s lease keeps lease expiry
  // from breaking the cycle first, as the default 100 ms lease would.)
  auto resolution = measured(run.result, "deadlock_timeout_resolution_seconds");
  ASSERT_TRUE(resolution.has_value());
  EXPECT_GE(*resolution, 0.15);
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(LockProbe, WithoutAGlobalOrderTheSameTwoLocksDeadlock) {
  RedisServer server;
  auto outcome =
      run_lock_probe(server, lock_config("workers = 2, duration = \"50ms\", ordered = false"));
  const ProbeRun& run = outcome.run;
  print(run);
  ASSERT_TRUE(run.ok) << first_error(run);
  // Each party holds its first lock before asking for the second: the cycle forms, is seen
  // once, and the party that saw it backs off so that the other one completes.
  EXPECT_EQ(measured(run.result, "ordered_deadlocks_total"), 1.0);
  EXPECT_EQ(measured(run.result, "ordered_completion_ratio"), 0.5);
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(LockProbe, HealthyServerIsSafeDetectsTheDeadlockAndLeavesNoKeys) {
  RedisServer server;
  auto outcome =
      run_lock_probe(server, lock_config("workers = 6, locks = 2, duration = \"300ms\""));
  const ProbeRun& run = outcome.run;
  print(run);
  ASSERT_TRUE(run.ok) << first_error(run);
  EXPECT_FALSE(run.timed_out);
  EXPECT_EQ(measured(run.result, "lock_safety_violations_total"), 0.0);
  auto throughput = measured(run.result, "lock_throughput_per_second");
  ASSERT_TRUE(throughput.has_value());
  EXPECT_GT(*throughput, 0.0);
  auto acquisitions = measured(run.result, "lock_acquisitions_total");
  ASSERT_TRUE(acquisitions.has_value());
  EXPECT_GT(*acquisitions, 6.0);  // six workers, 300 ms, sub-millisecond holds
  auto p99 = measured(run.result, "lock_acquire_p99_seconds");
  ASSERT_TRUE(p99.has_value());
  EXPECT_GE(*p99, 0.0);
  EXPECT_EQ(measured(run.result, "lock_timeouts_total"), 0.0);
  auto detection = measured(run.result, "deadlock_detection_seconds");
  ASSERT_TRUE(detection.has_value());
  EXPECT_GE(*detection, 0.0);
  // The dead holder's lock cannot be taken before its lease (100 ms by default) runs out:
  // recovery is timed from when the dead holder's request was sent.
  auto recovery = measured(run.result, "lease_expiry_recovery_seconds");
  ASSERT_TRUE(recovery.has_value());
  EXPECT_GE(*recovery, 0.1);
  EXPECT_TRUE(outcome.cleaned);
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(LockProbe, MaxAcquisitionsEndsTheContentionEarly) {
  RedisServer server;
  auto outcome = run_lock_probe(
      server, lock_config("workers = 2, locks = 1, duration = \"30s\", max_acquisitions = 20"));
  ASSERT_TRUE(outcome.run.ok) << first_error(outcome.run);
  auto acquisitions = measured(outcome.run.result, "lock_acquisitions_total");
  ASSERT_TRUE(acquisitions.has_value());
  // Each worker may have one acquisition in flight when the limit is reached.
  EXPECT_GE(*acquisitions, 20.0);
  EXPECT_LE(*acquisitions, 21.0);
  EXPECT_FALSE(outcome.run.timed_out);
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(LockProbe, RejectsBadParamsNamingTheKey) {
  struct Case {
    const char* params;
    const char* key;
  };
  for (const Case& c : {Case{"workers = 0", "probes[0].params.workers"},
                        Case{"locks = 2000", "probes[0].params.locks"},
                        Case{"lease = \"1ms\"", "probes[0].params.lease"},
                        Case{"hold_time = \"200ms\"", "probes[0].params.hold_time"},
                        Case{"wokers = 3", "probes[0].params.wokers"}}) {
    try {
      lock_probe_type().create(lock_config(c.params), "probes[0].params");
      ADD_FAILURE() << c.params << " was accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(c.key), std::string::npos)
          << c.params << " -> " << e.what();
    }
  }
}

TEST(LockProbe, AStalledServerFailsTheRunWithoutHangingIt) {
  RedisServer server;
  // Longer than the 1 s command timeout: commands in flight during the stall fail.
  std::thread staller([&] {
    std::this_thread::sleep_for(150ms);
    server.pause();
    std::this_thread::sleep_for(1500ms);
    server.resume();
  });
  auto started = std::chrono::steady_clock::now();
  auto outcome = run_lock_probe(
      server, lock_config("workers = 4, duration = \"500ms\", acquire_timeout = \"200ms\""));
  auto elapsed = std::chrono::steady_clock::now() - started;
  staller.join();
  const ProbeRun& run = outcome.run;
  print(run);
  EXPECT_FALSE(run.timed_out) << "the run must end by itself, well within its timeout";
  auto timeouts = measured(run.result, "lock_timeouts_total");
  EXPECT_TRUE(!run.ok || (timeouts && *timeouts > 0)) << "a stall went unnoticed";
  EXPECT_LT(elapsed, 10s);
  EXPECT_EQ(measured(run.result, "lock_safety_violations_total").value_or(0), 0.0);
}

TEST(LockProbe, ADeadServerIsAFailedRun) {
  RedisServer server;
  server.kill_hard();
  auto outcome = run_lock_probe(server, lock_config("workers = 2"));
  EXPECT_FALSE(outcome.run.ok);
  EXPECT_FALSE(outcome.run.timed_out);
  EXPECT_NE(first_error(outcome.run).find("connect"), std::string::npos)
      << first_error(outcome.run);
}

TEST(LockProbe, ACancelledRunStopsPromptlyAndCleansUp) {
  RedisServer server;
  auto config = lock_config("workers = 4, duration = \"5s\"");
  config.timeout = 200ms;
  auto outcome = run_lock_probe(server, config);
  EXPECT_TRUE(outcome.run.timed_out);
  EXPECT_FALSE(outcome.run.ok);
  EXPECT_LT(outcome.run.duration_seconds, 2.0);  // not the 5 s of the whole contention
  EXPECT_TRUE(outcome.cleaned);
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(LockProbe, OnAClusterAllLockKeysLiveOnTheNodeTheWorkersUse) {
  test::RedisCluster cluster;
  TargetConfig topology = test::cluster_topology_for(cluster.server(0));
  ConnectionOptions options = options_for(cluster.server(0));
  auto config = lock_config("workers = 4, locks = 3, duration = \"200ms\"");
  asio::io_context io;
  SystemClock clock;
  ProbeRunner runner(io.get_executor(), config,
                     lock_probe_type().create(config, "probes[0].params"), topology, options,
                     "chaosd", clock, [](const ProbeRun&) {});
  std::vector<long long> keys_during;
  auto outcome = test::run_on_loop<Outcome>(io, [&]() -> asio::awaitable<Outcome> {
    Outcome o;
    o.run = co_await runner.run_once();
    // The fencing counters outlive the run until cleanup: they show where the keys went.
    for (size_t i = 0; i < cluster.size(); ++i) {
      keys_during.push_back(cluster.server(i).count_keys("chaosd:*"));
    }
    Status cleaned = co_await runner.stop(5s);
    o.cleaned = cleaned.ok();
    co_return o;
  });
  print(outcome.run);
  ASSERT_TRUE(outcome.run.ok) << first_error(outcome.run);
  EXPECT_EQ(measured(outcome.run.result, "lock_safety_violations_total"), 0.0);
  // One slot: its primary and, once replicated, its replica. A worker talking to another node
  // would have been answered MOVED and failed the run above.
  auto holding =
      std::count_if(keys_during.begin(), keys_during.end(), [](long long n) { return n > 0; });
  EXPECT_GE(holding, 1);
  EXPECT_LE(holding, 2);
  EXPECT_TRUE(outcome.cleaned);
  for (size_t i = 0; i < cluster.size(); ++i) {
    EXPECT_EQ(cluster.server(i).count_keys("chaosd:*"), 0) << "node " << i;
  }
}

}  // namespace
}  // namespace chaosd
