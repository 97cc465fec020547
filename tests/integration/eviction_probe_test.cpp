// The eviction probe against real redis-servers with a small maxmemory: an LRU node keeps the hot
// set while it evicts cold keys, a random policy (or a hot set larger than memory, or memory that
// shrinks under the cache) makes the measurements fail, nodes that cannot evict are reported not
// applicable with the reason, and no run leaves a key behind.

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "daemon/redis/info.h"
#include "probes/eviction.h"
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

const char* const kMeasurements[] = {"eviction_latency_seconds", "hot_set_survival_ratio",
                                     "eviction_efficiency_ratio", "hit_rate_recovery_ratio",
                                     "evicted_keys_total"};

// A small run: 200 hot keys of 1 KiB read every 50 ms, and ~6 MiB of cold keys written over 5 s.
// Redis' LRU clock ticks once a second: the policy can tell the hot keys from cold ones only if
// each second's writes are well under what the node holds (here ~1200 keys/s against ~2300 keys;
// at 2.5 s the hot set's survival fell to 0.6-0.75 under allkeys-lru).
const std::string kParams =
    "hot_keys = 200, value_bytes = 1024, pressure_duration = \"5s\", batch_keys = 50, "
    "hot_read_interval = \"50ms\", key_ttl = \"1m\"";

ProbeConfig eviction_config(const std::string& params_toml = kParams) {
  return test::probe_config("eviction", params_toml);
}

std::vector<std::string> memory_args(const std::string& maxmemory, const std::string& policy) {
  return {"--maxmemory", maxmemory, "--maxmemory-policy", policy};
}

ProbeRun run_eviction(const RedisServer& server, const ProbeConfig& config,
                      std::optional<Duration> runner_timeout = std::nullopt) {
  auto outcome = test::run_probe_once(config, topology_for(server), options_for(server),
                                      /*stop_after=*/true, runner_timeout);
  EXPECT_TRUE(outcome.cleaned);
  return outcome.run;
}

// The reason of a not-applicable measurement ("" when it is applicable or absent).
std::string na_reason(const ProbeResult& result, const std::string& name) {
  for (const auto& m : result.measurements) {
    if (m.name == name) return m.na_reason;
  }
  return "";
}

void expect_all_not_applicable(const ProbeRun& run, const std::string& reason_part) {
  ASSERT_TRUE(run.ok) << first_error(run);
  for (const char* name : kMeasurements) {
    EXPECT_FALSE(measured(run.result, name).has_value()) << name;
    EXPECT_NE(na_reason(run.result, name).find(reason_part), std::string::npos)
        << name << ": " << na_reason(run.result, name);
  }
}

TEST(EvictionProbe, AnLruNodeKeepsItsHotSetWhileEvictingColdKeys) {
  RedisServer server(memory_args("4mb", "allkeys-lru"));
  auto run = run_eviction(server, eviction_config());
  ASSERT_TRUE(run.ok) << first_error(run);
  EXPECT_GE(measured(run.result, "hot_set_survival_ratio").value_or(-1), 0.85);
  EXPECT_GE(measured(run.result, "eviction_efficiency_ratio").value_or(-1), 0.85);
  EXPECT_GE(measured(run.result, "hit_rate_recovery_ratio").value_or(-1), 0.95);
  // 1.5 x 4 MiB of payload cannot fit in 4 MiB: thousands of keys had to go.
  EXPECT_GE(measured(run.result, "evicted_keys_total").value_or(-1), 1000);
  auto latency = measured(run.result, "eviction_latency_seconds");
  ASSERT_TRUE(latency.has_value());
  EXPECT_GT(*latency, 0.0);
  EXPECT_LT(*latency, 1.0);  // generous: only a wedged server would fail it
  EXPECT_TRUE(run.result.notes.empty()) << run.result.notes.front();
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(EvictionProbe, AVolatilePolicyEvictsTheProbesKeysWithTheirTtls) {
  RedisServer server(memory_args("4mb", "volatile-lru"));
  auto run = run_eviction(server, eviction_config());
  ASSERT_TRUE(run.ok) << first_error(run);
  EXPECT_GE(measured(run.result, "hot_set_survival_ratio").value_or(-1), 0.85);
  EXPECT_GE(measured(run.result, "evicted_keys_total").value_or(-1), 1000);
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(EvictionProbe, ARandomPolicyLosesTheHotSetAndTheProbeSaysSo) {
  RedisServer server(memory_args("4mb", "allkeys-random"));
  auto run = run_eviction(server, eviction_config());
  ASSERT_TRUE(run.ok) << first_error(run);
  // Random eviction ignores the reads: the hot keys, written first, go as fast as the cold ones.
  EXPECT_LT(measured(run.result, "hot_set_survival_ratio").value_or(1), 0.85);
  EXPECT_LT(measured(run.result, "eviction_efficiency_ratio").value_or(1), 0.5);
  EXPECT_GE(measured(run.result, "evicted_keys_total").value_or(-1), 1000);
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(EvictionProbe, AHotSetLargerThanMemoryCannotSurvive) {
  RedisServer server(memory_args("3mb", "allkeys-lru"));
  // 3000 hot keys of 1 KiB need over 3 MiB on their own.
  auto run = run_eviction(server, eviction_config("hot_keys = 3000, value_bytes = 1024, "
                                                  "pressure_duration = \"1s\", batch_keys = 50"));
  ASSERT_TRUE(run.ok) << first_error(run);
  EXPECT_LT(measured(run.result, "hot_set_survival_ratio").value_or(1), 0.85);
  ASSERT_FALSE(run.result.notes.empty());
  EXPECT_NE(run.result.notes[0].find("larger than its memory"), std::string::npos)
      << run.result.notes[0];
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(EvictionProbe, MemoryShrinkingUnderTheCacheBreaksTheRecovery) {
  RedisServer server(memory_args("6mb", "allkeys-lru"));
  const long long baseline = std::stoll(info_field(server.cli({"INFO", "memory"}), "used_memory"));
  // Another tenant's growth, as the cache sees it: once evictions begin, the node's memory for
  // the cache shrinks to ~150 KB, too little for the 200 hot keys (~250 KB with overhead).
  std::atomic<bool> shrunk{false};
  std::thread shrinker([&] {
    for (int i = 0; i < 800 && !shrunk; ++i) {
      auto evicted = info_field(server.cli({"INFO", "stats"}), "evicted_keys");
      if (!evicted.empty() && std::stoll(evicted) > 0) {
        server.cli({"CONFIG", "SET", "maxmemory", std::to_string(baseline + 150'000)});
        shrunk = true;
      }
      std::this_thread::sleep_for(10ms);
    }
  });
  auto run = run_eviction(server, eviction_config());
  shrinker.join();
  ASSERT_TRUE(shrunk);
  // Whether or not writes were refused (OOM) on the way, the hot set cannot come back.
  EXPECT_LT(measured(run.result, "hit_rate_recovery_ratio").value_or(1), 0.8) << first_error(run);
  EXPECT_LT(measured(run.result, "hot_set_survival_ratio").value_or(1), 0.85);
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(EvictionProbe, ReadsTheLimitsFromInfoWhenConfigIsRenamed) {
  RedisServer server({"--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru", "--rename-command",
                      "CONFIG", ""});
  ASSERT_EQ(server.cli({"CONFIG", "GET", "maxmemory"}).rfind("ERR", 0), 0u);
  auto run = run_eviction(server, eviction_config());
  ASSERT_TRUE(run.ok) << first_error(run);
  EXPECT_GE(measured(run.result, "hot_set_survival_ratio").value_or(-1), 0.85);
  ASSERT_FALSE(run.result.notes.empty());
  EXPECT_NE(run.result.notes[0].find("INFO memory"), std::string::npos) << run.result.notes[0];
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(EvictionProbe, OnAClusterItFillsOnlyTheNodeServingItsSlot) {
  test::RedisCluster cluster;
  for (size_t i = 0; i < cluster.size(); ++i) {
    cluster.server(i).cli({"CONFIG", "SET", "maxmemory", "8mb"});
    cluster.server(i).cli({"CONFIG", "SET", "maxmemory-policy", "allkeys-lru"});
  }
  TargetConfig topology = test::cluster_topology_for(cluster.server(0));
  ConnectionOptions options = options_for(cluster.server(0));
  auto config = eviction_config();
  config.target = "cluster";
  auto outcome = test::run_probe_once(config, topology, options);
  EXPECT_TRUE(outcome.cleaned);
  const ProbeRun& run = outcome.run;
  ASSERT_TRUE(run.ok) << first_error(run);
  EXPECT_GE(measured(run.result, "hot_set_survival_ratio").value_or(-1), 0.85);
  EXPECT_GE(measured(run.result, "evicted_keys_total").value_or(-1), 1000);
  // CONFIG GET and INFO went to the slot's owner: the node that evicted is the one it filled.
  int evicting_primaries = 0;
  for (test::RedisServer* primary : cluster.primaries()) {
    if (info_field(primary->cli({"INFO", "stats"}), "evicted_keys") != "0") ++evicting_primaries;
  }
  EXPECT_EQ(evicting_primaries, 1);
  for (size_t i = 0; i < cluster.size(); ++i) {
    EXPECT_EQ(cluster.server(i).count_keys("chaosd:*"), 0) << i;
  }
}

TEST(EvictionProbe, WithoutAMemoryLimitNothingIsMeasuredOrWritten) {
  RedisServer server;  // maxmemory 0
  auto run = test::run_probe_once(eviction_config(), topology_for(server), options_for(server),
                                  /*stop_after=*/false)
                 .run;
  expect_all_not_applicable(run, "maxmemory is 0");
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);  // not even written: no stop() ran
  EXPECT_EQ(info_field(server.cli({"INFO", "stats"}), "evicted_keys"), "0");
}

TEST(EvictionProbe, NoevictionIsNotApplicable) {
  RedisServer server(memory_args("4mb", "noeviction"));
  auto run = run_eviction(server, eviction_config());
  expect_all_not_applicable(run, "noeviction");
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(EvictionProbe, AMaxmemoryTooBigToFillIsRefusedNotFilled) {
  RedisServer server(memory_args("100mb", "allkeys-lru"));
  auto run = test::run_probe_once(eviction_config(kParams + ", max_fill_bytes = 16777216"),
                                  topology_for(server), options_for(server), /*stop_after=*/false)
                 .run;
  expect_all_not_applicable(run, "over max_fill_bytes");
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(EvictionProbe, ACancelledRunStopsAndLeavesNoKeys) {
  RedisServer server(memory_args("4mb", "allkeys-lru"));
  auto run = run_eviction(server, eviction_config(), /*runner_timeout=*/500ms);
  EXPECT_TRUE(run.timed_out);
  EXPECT_FALSE(run.ok);
  EXPECT_LT(run.duration_seconds, 2.0);  // the 2.5 s fill was cut short
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

void expect_rejected(const std::string& params, const std::string& key_path) {
  test::expect_params_rejected(eviction_config(params), key_path);
}

TEST(EvictionProbe, RejectsBadParamsNamingTheKey) {
  expect_rejected("hot_keys = 0", "probes[0].params.hot_keys");
  expect_rejected("fill_factor = 1.0", "probes[0].params.fill_factor");
  expect_rejected("fill_factor = 9.0", "probes[0].params.fill_factor");
  expect_rejected("batch_keys = 1", "probes[0].params.batch_keys");
  expect_rejected("max_fill_bytes = 1024", "probes[0].params.max_fill_bytes");
  expect_rejected("pressure = \"1s\"", "probes[0].params.pressure");
  // 100000 hot keys of 1 KiB alone are over the 64 MiB default max_fill_bytes.
  expect_rejected("hot_keys = 100000", "probes[0].params.hot_keys");
  expect_rejected("hot_keys = 1000, max_fill_keys = 1000", "probes[0].params.max_fill_keys");
  // The test config's timeout is 10 s.
  expect_rejected("pressure_duration = \"9500ms\"", "probes[0].params.pressure_duration");
  expect_rejected("key_ttl = \"5s\"", "probes[0].params.key_ttl");
  EXPECT_NO_THROW(eviction_probe_type().create(eviction_config(""), "probes[0].params"));
}

}  // namespace
}  // namespace chaosd
