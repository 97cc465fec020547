// The reshard probe against a real 3-primary cluster: with chaos allowed it moves its own slot to
// another primary and back while its workload runs (seen from outside, in CLUSTER NODES), every
// acknowledged write stays readable and the cluster ends stable; without chaos allowed it moves
// nothing and says why its throughput comparison does not apply, but sees a move made by someone
// else during its watch window; a non-cluster target gets n/a measurements; a run cancelled
// mid-move stops at once and leaves the cluster consistent.

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "daemon/redis/cluster_redis_client.h"
#include "daemon/redis/crc16.h"
#include "probes/reshard.h"
#include "tests/support/loop.h"
#include "tests/support/probe_harness.h"
#include "tests/support/redis_cluster.h"
#include "tests/support/redis_server.h"

namespace chaosd {
namespace {
namespace asio = boost::asio;
using test::first_error;
using test::measured;
using test::RedisCluster;
using test::RedisServer;
using namespace std::chrono_literals;

const uint16_t kSlot = key_hash_slot("chaosd:{reshard}:");

ProbeConfig reshard_config(const std::string& params_toml) {
  auto config = test::probe_config("reshard", params_toml);
  config.target = "cluster";
  return config;
}

void print(const ProbeRun& run) {
  for (const auto& m : run.result.measurements) {
    std::cout << "  " << m.name << " = "
              << (m.applicable() ? std::to_string(m.value) : "n/a: " + m.na_reason) << "\n";
  }
  for (const auto& e : run.result.errors) std::cout << "  error: " << e << "\n";
  for (const auto& n : run.result.notes) std::cout << "  note: " << n << "\n";
}

std::string na_reason(const ProbeResult& result, const std::string& name) {
  for (const auto& m : result.measurements) {
    if (m.name == name) return m.na_reason;
  }
  return "(absent)";
}

long long keys_in_cluster(RedisCluster& cluster) {
  long long total = 0;
  for (size_t i = 0; i < cluster.size(); ++i) total += cluster.server(i).count_keys("chaosd:*");
  return total;
}

/// Watches who owns the probe's slot (CLUSTER NODES of a node) every 10 ms until stopped.
class OwnerWatcher {
 public:
  explicit OwnerWatcher(RedisCluster& cluster)
      : thread_([this, &cluster] {
          while (!stop_) {
            try {
              uint16_t port = cluster.owner_of(kSlot).port();
              std::lock_guard lock(mutex_);
              owners_.insert(port);
            } catch (const std::exception&) {
              // mid-change views are fine: the next poll sees the outcome
            }
            std::this_thread::sleep_for(10ms);
          }
        }) {}
  ~OwnerWatcher() { stop(); }
  std::set<uint16_t> stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    std::lock_guard lock(mutex_);
    return owners_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::set<uint16_t> owners_;
  std::thread thread_;
};

test::ProbeOutcome run_reshard(RedisCluster& cluster, bool chaos_allowed, const std::string& params,
                               std::optional<Duration> runner_timeout = std::nullopt) {
  TargetConfig topology = test::cluster_topology_for(cluster.server(0));
  topology.chaos_allowed = chaos_allowed;
  ConnectionOptions options = test::options_for(cluster.server(0));
  auto outcome =
      test::run_probe_once(reshard_config(params), topology, options, true, runner_timeout);
  print(outcome.run);
  return outcome;
}

TEST(ReshardProbe, WithChaosAllowedItMovesItsSlotOutAndBackAndKeepsEveryWrite) {
  RedisCluster cluster;
  const uint16_t home = cluster.owner_of(kSlot).port();
  OwnerWatcher watcher(cluster);
  auto outcome = run_reshard(cluster, true, "baseline = \"500ms\", hold = \"500ms\"");
  auto owners = watcher.stop();
  const ProbeRun& run = outcome.run;
  ASSERT_TRUE(run.ok) << first_error(run);
  EXPECT_TRUE(outcome.cleaned);
  EXPECT_EQ(measured(run.result, "slots_moved_total"), 2.0);
  // Seen from outside: the slot was on another primary for a while, and is home again.
  EXPECT_EQ(owners.size(), 2u);
  EXPECT_TRUE(owners.contains(home));
  cluster.wait_until_stable();
  EXPECT_EQ(cluster.owner_of(kSlot).port(), home);
  EXPECT_EQ(measured(run.result, "acked_readable_ratio"), 1.0);
  auto gap = measured(run.result, "unavailability_seconds");
  ASSERT_TRUE(gap.has_value());
  EXPECT_GT(*gap, 0.0);
  EXPECT_LT(*gap, 3.0);  // generous: only a hang would exceed it
  auto degradation = measured(run.result, "throughput_degradation_ratio");
  ASSERT_TRUE(degradation.has_value()) << na_reason(run.result, "throughput_degradation_ratio");
  EXPECT_GE(*degradation, 0.0);
  EXPECT_LT(*degradation, 1.0);  // the workload kept going during the move
  int moves_noted = 0;
  for (const auto& note : run.result.notes) {
    if (note.find("moved from") != std::string::npos) ++moves_noted;
  }
  EXPECT_EQ(moves_noted, 2);
  EXPECT_EQ(keys_in_cluster(cluster), 0);
}

TEST(ReshardProbe, WithoutChaosAllowedItOnlyWatches) {
  RedisCluster cluster;
  const uint16_t home = cluster.owner_of(kSlot).port();
  OwnerWatcher watcher(cluster);
  auto outcome = run_reshard(cluster, false, "baseline = \"300ms\", hold = \"300ms\"");
  auto owners = watcher.stop();
  const ProbeRun& run = outcome.run;
  ASSERT_TRUE(run.ok) << first_error(run);
  EXPECT_EQ(owners, std::set<uint16_t>{home});
  EXPECT_EQ(measured(run.result, "slots_moved_total"), 0.0);
  EXPECT_FALSE(measured(run.result, "throughput_degradation_ratio").has_value());
  EXPECT_NE(na_reason(run.result, "throughput_degradation_ratio").find("not chaos_allowed"),
            std::string::npos);
  EXPECT_EQ(measured(run.result, "acked_readable_ratio"), 1.0);
  EXPECT_TRUE(measured(run.result, "unavailability_seconds").has_value());
  EXPECT_EQ(keys_in_cluster(cluster), 0);
}

// Moves the probe's slot the way an operator (or the chaos engine) would, keys and all, from a
// test thread while the probe watches.
void move_slot_by_hand(RedisCluster& cluster, RedisServer& source, RedisServer& target) {
  cluster.begin_migration(kSlot, source, target);
  for (int round = 0; round < 1000; ++round) {
    std::string keys = source.cli({"CLUSTER", "GETKEYSINSLOT", std::to_string(kSlot), "200"});
    std::vector<std::string> migrate = {
        "MIGRATE", "127.0.0.1", std::to_string(target.port()), "", "0", "5000", "KEYS"};
    std::istringstream lines(keys);
    for (std::string key; std::getline(lines, key);) {
      if (!key.empty()) migrate.push_back(key);
    }
    if (migrate.size() == 7) break;
    std::string reply = source.cli(migrate);
    if (reply != "OK" && reply != "NOKEY") throw std::runtime_error("MIGRATE: " + reply);
  }
  cluster.finish_migration(kSlot, source, target);
}

TEST(ReshardProbe, WatchingItSeesAMoveMadeBySomeoneElse) {
  RedisCluster cluster;
  RedisServer& source = cluster.owner_of(kSlot);
  RedisServer* target = nullptr;
  for (RedisServer* primary : cluster.primaries()) {
    if (primary != &source) target = primary;
  }
  ASSERT_NE(target, nullptr);
  std::string move_error;
  // The baseline (500 ms) starts with the workload's first keys; the move starts 300 ms after it
  // ends, well inside the 2 s watch window.
  std::thread mover([&] {
    for (int i = 0; i < 500 && source.count_keys("chaosd:{reshard}:*") == 0; ++i) {
      std::this_thread::sleep_for(5ms);
    }
    std::this_thread::sleep_for(800ms);
    try {
      move_slot_by_hand(cluster, source, *target);
    } catch (const std::exception& e) {
      move_error = e.what();
    }
  });
  auto outcome = run_reshard(cluster, false, "baseline = \"500ms\", hold = \"2s\"");
  mover.join();
  ASSERT_EQ(move_error, "");
  const ProbeRun& run = outcome.run;
  ASSERT_TRUE(run.ok) << first_error(run);
  EXPECT_EQ(cluster.owner_of(kSlot).port(), target->port());  // the probe moved nothing back
  auto moved = measured(run.result, "slots_moved_total");
  ASSERT_TRUE(moved.has_value());
  EXPECT_GE(*moved, 1.0);  // the workload's client saw the owner change
  auto degradation = measured(run.result, "throughput_degradation_ratio");
  ASSERT_TRUE(degradation.has_value()) << na_reason(run.result, "throughput_degradation_ratio");
  EXPECT_GE(*degradation, 0.0);
  EXPECT_LT(*degradation, 1.0);
  EXPECT_EQ(measured(run.result, "acked_readable_ratio"), 1.0);
  EXPECT_EQ(keys_in_cluster(cluster), 0);
}

TEST(ReshardProbe, ARunCancelledDuringTheMovePhaseStopsAndLeavesAConsistentCluster) {
  RedisCluster cluster;
  // The run times out while the slot is away (hold 3 s): the probe must not wait for the hold,
  // and must not leave the slot half-migrated.
  auto outcome = run_reshard(cluster, true, "baseline = \"200ms\", hold = \"3s\"",
                             /*runner_timeout=*/1s);
  const ProbeRun& run = outcome.run;
  EXPECT_TRUE(run.timed_out);
  EXPECT_LT(run.duration_seconds, 2.5);
  EXPECT_TRUE(outcome.cleaned);
  cluster.wait_until_stable();  // no node left MIGRATING/IMPORTING, all agree
  EXPECT_EQ(keys_in_cluster(cluster), 0);
}

asio::awaitable<void> expire_after(Duration d) {
  asio::steady_timer timer(co_await asio::this_coro::executor,
                           std::chrono::duration_cast<SteadyTime::duration>(d));
  co_await timer.async_wait(asio::use_awaitable);
}

TEST(ReshardProbe, TheRunAfterACancelledOneMovesTheSlotAgain) {
  RedisCluster cluster;
  TargetConfig topology = test::cluster_topology_for(cluster.server(0));
  topology.chaos_allowed = true;
  ConnectionOptions options = test::options_for(cluster.server(0));
  options.client_name = "redis-chaosd:reshard";
  auto config = reshard_config("baseline = \"200ms\", hold = \"1500ms\"");
  asio::io_context io;  // outlives the probe, whose slot mover holds a timer on it
  auto probe = reshard_probe_type().create(config, "probes[0].params");
  SystemClock clock;
  ClusterRedisClient redis(io.get_executor(), topology, options);
  ProbeContext ctx{io.get_executor(), redis, options, topology, "chaosd:{reshard}:", clock};
  struct Runs {
    bool first_cancelled = false;
    ProbeResult second;
    bool cleaned = false;
  };
  auto runs = test::run_on_loop<Runs>(io, [&]() -> asio::awaitable<Runs> {
    using namespace asio::experimental::awaitable_operators;
    Runs r;
    // Cancelled during the hold: the slot stays on the other primary, the workers stop.
    auto first = co_await (probe->run(ctx) || expire_after(700ms));
    r.first_cancelled = first.index() == 1;
    r.second = co_await probe->run(ctx);
    Status cleaned = co_await probe->cleanup(ctx);
    r.cleaned = cleaned.ok();
    co_return r;
  });
  EXPECT_TRUE(runs.first_cancelled);
  ProbeRun second;
  second.result = runs.second;
  print(second);
  ASSERT_TRUE(runs.second.ok()) << runs.second.errors.front();
  EXPECT_EQ(measured(runs.second, "slots_moved_total"), 2.0);
  EXPECT_EQ(measured(runs.second, "acked_readable_ratio"), 1.0);
  EXPECT_TRUE(runs.cleaned);
  cluster.wait_until_stable();
  EXPECT_EQ(keys_in_cluster(cluster), 0);
}

TEST(ReshardProbe, OnANonClusterTargetEveryMeasurementIsNotApplicable) {
  RedisServer server;
  auto config = test::probe_config("reshard");
  auto outcome =
      test::run_probe_once(config, test::topology_for(server), test::options_for(server));
  const ProbeRun& run = outcome.run;
  ASSERT_TRUE(run.ok) << first_error(run);
  ASSERT_EQ(run.result.measurements.size(), 4u);
  for (const auto& m : run.result.measurements) {
    EXPECT_FALSE(m.applicable()) << m.name;
    EXPECT_NE(m.na_reason.find("not a cluster"), std::string::npos) << m.na_reason;
  }
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

void expect_rejected(const std::string& params, const std::string& key_path) {
  test::expect_params_rejected(reshard_config(params), key_path);
}

TEST(ReshardProbe, RejectsBadParamsNamingTheKey) {
  expect_rejected("workers = 0", "probes[0].params.workers");
  expect_rejected("keys_per_batch = 0", "probes[0].params.keys_per_batch");
  expect_rejected("move = \"yes\"", "probes[0].params.move");
  expect_rejected("baseline = \"10ms\"", "probes[0].params.baseline");
  expect_rejected("hold = \"forever\"", "probes[0].params.hold");
  expect_rejected("slot = 5", "probes[0].params.slot");
  // 5 s + 3 s + 3 s for the moves cannot fit in the 10 s timeout.
  expect_rejected("baseline = \"5s\", hold = \"3s\"", "probes[0].params.baseline");
  expect_rejected("key_ttl = \"5s\"", "probes[0].params.key_ttl");
  EXPECT_NO_THROW(reshard_probe_type().create(reshard_config(""), "probes[0].params"));
}

}  // namespace
}  // namespace chaosd
