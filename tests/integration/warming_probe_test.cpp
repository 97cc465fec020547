// The warming probe against a real redis-server: each strategy's hit rate is exactly what its
// warm set earns on the recorded pattern, a stale priority list or a flat access pattern gives a
// low hit rate, a namespace flushed between warm and replay gives no hit at all, cold reads include
// the source's latency, bad params are config errors and no run leaves keys behind.

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <unordered_set>

#include "probes/warming.h"
#include "tests/support/probe_harness.h"
#include "tests/support/redis_cluster.h"
#include "tests/support/redis_server.h"

namespace chaosd {
namespace {
using test::RedisServer;
using namespace std::chrono_literals;

using test::first_error;
using test::options_for;
using test::topology_for;

ProbeConfig warming_config(const std::string& params_toml = "") {
  return test::probe_config("warming", params_toml);
}

ProbeRun run_warming(const RedisServer& server, const ProbeConfig& config,
                     std::optional<Duration> runner_timeout = std::nullopt) {
  auto outcome = test::run_probe_once(config, topology_for(server), options_for(server),
                                      /*stop_after=*/true, runner_timeout);
  EXPECT_TRUE(outcome.cleaned);
  return outcome.run;
}

std::optional<double> measured(const ProbeResult& result, const std::string& name,
                               const std::string& subject = "") {
  for (const auto& m : result.measurements) {
    if (m.name == name && m.subject == subject && m.applicable()) return m.value;
  }
  return std::nullopt;
}

// What a strategy's warm set earns on the replay, computed from the pattern alone.
std::pair<double, double> expected(const AccessPatternParams& params, WarmStrategy strategy,
                                   size_t warm_keys) {
  AccessPattern pattern = make_access_pattern(params);
  auto chosen = choose_warm_set(strategy, pattern, warm_keys);
  std::unordered_set<uint32_t> warm(chosen.begin(), chosen.end()), used;
  size_t hits = 0;
  for (uint32_t item : pattern.replay) {
    if (warm.count(item) > 0) {
      ++hits;
      used.insert(item);
    }
  }
  return {static_cast<double>(hits) / static_cast<double>(pattern.replay.size()),
          static_cast<double>(used.size()) / static_cast<double>(chosen.size())};
}

TEST(WarmingProbe, EachStrategyEarnsExactlyTheHitsOfItsWarmSet) {
  RedisServer server;
  auto run = run_warming(server, warming_config());
  ASSERT_TRUE(run.ok) << first_error(run);
  AccessPatternParams defaults;
  for (WarmStrategy strategy : kWarmStrategies) {
    const std::string name = to_string(strategy);
    auto [hit_rate, efficiency] = expected(defaults, strategy, 250);
    // Redis served every warmed key and nothing else: the replay's hits are the pattern's.
    EXPECT_DOUBLE_EQ(measured(run.result, "hit_rate_ratio", name).value_or(-1), hit_rate) << name;
    EXPECT_DOUBLE_EQ(measured(run.result, "warming_efficiency_ratio", name).value_or(-1),
                     efficiency)
        << name;
    auto warm_time = measured(run.result, "warm_time_seconds", name);
    ASSERT_TRUE(warm_time.has_value()) << name;
    EXPECT_GT(*warm_time, 0.0);
    EXPECT_LT(*warm_time, 5.0);  // generous: 250 SETs in one pipeline
  }
  // The default pattern: a trend that a static priority list cannot follow.
  EXPECT_LT(measured(run.result, "hit_rate_ratio", "priority").value_or(1), 0.8);
  EXPECT_GE(measured(run.result, "hit_rate_ratio", "predictive").value_or(0), 0.8);
  EXPECT_GT(measured(run.result, "hit_rate_ratio", "predictive").value_or(0),
            measured(run.result, "hit_rate_ratio", "priority").value_or(1));
  EXPECT_TRUE(measured(run.result, "cold_read_seconds").has_value());
  EXPECT_TRUE(measured(run.result, "warm_read_seconds").has_value());
  EXPECT_TRUE(run.result.notes.empty()) << run.result.notes.front();
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(WarmingProbe, OnAClusterTheSameHitsComeFromTheNodeServingItsSlot) {
  test::RedisCluster cluster;
  TargetConfig topology = test::cluster_topology_for(cluster.server(0));
  ConnectionOptions options = options_for(cluster.server(0));
  auto config = warming_config();
  config.target = "cluster";
  auto outcome = test::run_probe_once(config, topology, options);
  EXPECT_TRUE(outcome.cleaned);
  const ProbeRun& run = outcome.run;
  ASSERT_TRUE(run.ok) << first_error(run);
  for (WarmStrategy strategy : kWarmStrategies) {
    EXPECT_DOUBLE_EQ(measured(run.result, "hit_rate_ratio", to_string(strategy)).value_or(-1),
                     expected(AccessPatternParams{}, strategy, 250).first)
        << to_string(strategy);
  }
  for (size_t i = 0; i < cluster.size(); ++i) {
    EXPECT_EQ(cluster.server(i).count_keys("chaosd:*"), 0) << i;
  }
}

TEST(WarmingProbe, AStalePriorityListUnderAStrongTrendWarmsTheWrongKeys) {
  RedisServer server;
  auto run = run_warming(server, warming_config("trend = 0.6"));
  ASSERT_TRUE(run.ok) << first_error(run);
  AccessPatternParams params;
  params.trend = 0.6;
  auto priority = measured(run.result, "hit_rate_ratio", "priority").value_or(1);
  EXPECT_DOUBLE_EQ(priority, expected(params, WarmStrategy::priority, 250).first);
  EXPECT_LT(priority, 0.6);
  EXPECT_GE(measured(run.result, "hit_rate_ratio", "frequency").value_or(0), 0.8);
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(WarmingProbe, AFlatAccessPatternCannotBeWarmedByAnyStrategy) {
  RedisServer server;
  // Nearly uniform popularity: 5% of the items can serve only a small share of the reads.
  auto run = run_warming(server, warming_config("zipf_exponent = 0.2, trend = 0.0"));
  ASSERT_TRUE(run.ok) << first_error(run);
  for (WarmStrategy strategy : kWarmStrategies) {
    EXPECT_LT(measured(run.result, "hit_rate_ratio", to_string(strategy)).value_or(1), 0.3)
        << to_string(strategy);
  }
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(WarmingProbe, ANamespaceFlushedAfterTheWarmGivesNoHits) {
  RedisServer server;
  // Another client empties the database whenever a warm has landed, during the replay delay.
  std::atomic<bool> done{false};
  std::atomic<int> flushes{0};
  std::thread flusher([&] {
    for (int i = 0; i < 2000 && !done; ++i) {
      if (std::stoll(server.cli({"DBSIZE"})) >= 250) {
        server.cli({"FLUSHALL"});
        ++flushes;
      }
      std::this_thread::sleep_for(2ms);
    }
  });
  auto run = run_warming(server, warming_config("replay_delay = \"300ms\""));
  done = true;
  flusher.join();
  ASSERT_TRUE(run.ok) << first_error(run);
  EXPECT_EQ(flushes, 3);
  for (WarmStrategy strategy : kWarmStrategies) {
    EXPECT_EQ(measured(run.result, "hit_rate_ratio", to_string(strategy)), 0.0)
        << to_string(strategy);
    EXPECT_EQ(measured(run.result, "warming_efficiency_ratio", to_string(strategy)), 0.0);
  }
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(WarmingProbe, AColdReadIncludesTheSourceFetch) {
  RedisServer server;
  auto run = run_warming(server, warming_config("source_latency = \"20ms\", latency_samples = 10"));
  ASSERT_TRUE(run.ok) << first_error(run);
  auto cold = measured(run.result, "cold_read_seconds");
  auto warm = measured(run.result, "warm_read_seconds");
  ASSERT_TRUE(cold.has_value());
  ASSERT_TRUE(warm.has_value());
  EXPECT_GE(*cold, 0.020);  // a miss waits for the source, by construction
  EXPECT_LT(*warm, *cold);  // a hit does not (20 ms is far above a loopback GET)
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(WarmingProbe, EveryKeyItWritesHasATtl) {
  RedisServer server;
  auto outcome = test::run_probe_once(warming_config("replay_delay = \"2s\", warm_keys = 20"),
                                      topology_for(server), options_for(server),
                                      /*stop_after=*/false, /*runner_timeout=*/1s);
  // Cut short during the first replay delay: the warm is in Redis, every key with a TTL.
  EXPECT_TRUE(outcome.run.timed_out);
  EXPECT_EQ(server.count_keys("chaosd:*"), 20);
  AccessPattern pattern = make_access_pattern(AccessPatternParams{});
  for (uint32_t item : choose_warm_set(WarmStrategy::priority, pattern, 20)) {
    const std::string key = "chaosd:{warming}:item:" + std::to_string(item);
    EXPECT_GT(std::stoll(server.cli({"PTTL", key})), 0) << key;  // -1: no TTL, -2: missing
  }
}

TEST(WarmingProbe, ACancelledRunStopsAndLeavesNoKeys) {
  RedisServer server;
  auto run = run_warming(server, warming_config("replay_delay = \"2s\""), /*runner_timeout=*/500ms);
  EXPECT_TRUE(run.timed_out);
  EXPECT_FALSE(run.ok);
  EXPECT_LT(run.duration_seconds, 2.0);
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

void expect_rejected(const std::string& params, const std::string& key_path) {
  test::expect_params_rejected(warming_config(params), key_path);
}

TEST(WarmingProbe, RejectsBadParamsNamingTheKey) {
  expect_rejected("warm_keys = 0", "probes[0].params.warm_keys");
  expect_rejected("source_keys = 100, warm_keys = 200", "probes[0].params.warm_keys");
  expect_rejected("trend = 1.5", "probes[0].params.trend");
  expect_rejected("zipf = 1.0", "probes[0].params.zipf");
  expect_rejected("trending_keys = 5000", "probes[0].params.trending_keys");
  expect_rejected("key_ttl = \"5s\"", "probes[0].params.key_ttl");  // the timeout is 10 s
  expect_rejected("replay_delay = \"4s\"", "probes[0].params.replay_delay");
  expect_rejected("strategy = \"lru\"", "probes[0].params.strategy");
  EXPECT_NO_THROW(warming_probe_type().create(warming_config(""), "probes[0].params"));
}

}  // namespace
}  // namespace chaosd
