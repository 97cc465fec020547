// The collision probe against a real redis-server: intrusions through the owner check are
// rejected and plain SETs bypassing it are caught by the owner (by polling, or by keyspace
// events when the server emits them) and restored; truncated-hash keys really collide, as many
// times as the digests predict, and every collision is chained; values damaged or taken over
// behind the probe's back lower the integrity ratio by exactly the damaged share; bad params are
// config errors; runs leave no keys and stop promptly when cancelled.

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <set>

#include "daemon/probe_runner.h"
#include "probes/collision.h"
#include "probes/collision_hashed.h"
#include "probes/collision_value.h"
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
using test::options_for;
using test::topology_for;

ProbeConfig collision_config(const std::string& params_toml) {
  return test::probe_config("collision", params_toml);
}

std::optional<double> measured_for(const ProbeResult& result, const std::string& name,
                                   const std::string& subject) {
  for (const auto& m : result.measurements) {
    if (m.name == name && m.subject == subject && m.applicable()) return m.value;
  }
  return std::nullopt;
}

std::string all_notes(const ProbeResult& result) {
  std::string out;
  for (const auto& n : result.notes) out += n + "\n";
  return out;
}

// Keys under `pattern` without a TTL, counted by the server itself.
long long keys_without_ttl(const RedisServer& server, const std::string& pattern) {
  return std::stoll(server.cli(
      {"EVAL",
       "local n = 0 local c = '0' repeat local r = redis.call('SCAN', c, 'MATCH', ARGV[1], "
       "'COUNT', 1000) c = r[1] for _, k in ipairs(r[2]) do if redis.call('PTTL', k) < 0 then "
       "n = n + 1 end end until c == '0' return n",
       "0", pattern}));
}

// Colliding keys the digests predict for run `run`: keys minus distinct buckets.
int predicted_collisions(int tenants, int hashed_keys, int bits, uint64_t run) {
  std::set<std::string> buckets;
  for (int t = 0; t < tenants; ++t) {
    for (int i = 0; i < hashed_keys; ++i) {
      buckets.insert(
          collision_bucket("t" + std::to_string(t) + "/item" + std::to_string(i), run, bits));
    }
  }
  return tenants * hashed_keys - static_cast<int>(buckets.size());
}

ProbeRun run_with_hook(const RedisServer& server, const ProbeConfig& config,
                       CollisionProbe::BeforeVerify hook) {
  auto probe = collision_probe_type().create(config, "probes[0].params");
  static_cast<CollisionProbe&>(*probe).set_before_verify(std::move(hook));
  asio::io_context io;
  SystemClock clock;
  ProbeRunner runner(io.get_executor(), config, std::move(probe), topology_for(server),
                     options_for(server), "chaosd", clock, [](const ProbeRun&) {});
  return test::run_on_loop<ProbeRun>(io, [&]() -> asio::awaitable<ProbeRun> {
    ProbeRun run = co_await runner.run_once();
    Status cleaned = co_await runner.stop(5s);
    EXPECT_TRUE(cleaned.ok());
    co_return run;
  });
}

void expect_every_collision_handled(const ProbeRun& run, int intrusions) {
  ASSERT_TRUE(run.ok) << first_error(run);
  for (const char* subject : {"checked", "bypass"}) {
    EXPECT_EQ(measured_for(run.result, "collisions_total", subject), intrusions) << subject;
    EXPECT_EQ(measured_for(run.result, "collision_resolution_ratio", subject), 1.0) << subject;
    auto detection = measured_for(run.result, "collision_detection_seconds", subject);
    ASSERT_TRUE(detection.has_value()) << subject;
    EXPECT_GT(*detection, 0) << subject;
    EXPECT_LT(*detection, 1.0) << subject;  // max_wait: a miss would report exactly 1 s
  }
  EXPECT_EQ(measured_for(run.result, "value_integrity_ratio", "namespace"), 1.0);
  EXPECT_EQ(measured_for(run.result, "value_integrity_ratio", "hashed"), 1.0);
}

TEST(CollisionProbe, OwnersCatchIntrusionsByPollingWithoutKeyspaceEvents) {
  RedisServer server;
  auto outcome = test::run_probe_once(collision_config("intrusions = 4"), topology_for(server),
                                      options_for(server));
  EXPECT_TRUE(outcome.cleaned);
  expect_every_collision_handled(outcome.run, 4);
  EXPECT_NE(all_notes(outcome.run.result).find("owners poll every 1ms"), std::string::npos)
      << all_notes(outcome.run.result);
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(CollisionProbe, OwnersCatchIntrusionsThroughKeyspaceEvents) {
  RedisServer server({"--notify-keyspace-events", "K$"});
  // Polling every second could not detect anything within max_wait: only the events can.
  auto outcome = test::run_probe_once(
      collision_config("intrusions = 3, poll_interval = \"1s\", max_wait = \"2s\""),
      topology_for(server), options_for(server));
  EXPECT_TRUE(outcome.cleaned);
  expect_every_collision_handled(outcome.run, 3);
  EXPECT_NE(all_notes(outcome.run.result).find("keyspace notifications"), std::string::npos)
      << all_notes(outcome.run.result);
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(CollisionProbe, TruncatedHashesReallyCollideAndEveryCollisionIsChained) {
  RedisServer server;
  // 4 x 64 keys in 2^10 buckets: about 30 collisions by the birthday bound.
  auto outcome = test::run_probe_once(
      collision_config("hashed_keys = 64, hash_bits = 10, max_chain = 8, intrusions = 0"),
      topology_for(server), options_for(server));
  ASSERT_TRUE(outcome.run.ok) << first_error(outcome.run);
  const int predicted = predicted_collisions(4, 64, 10, 1);
  ASSERT_GT(predicted, 0);
  EXPECT_EQ(measured_for(outcome.run.result, "collisions_total", "hashed"), predicted);
  EXPECT_EQ(measured_for(outcome.run.result, "collision_resolution_ratio", "hashed"), 1.0);
  EXPECT_EQ(measured_for(outcome.run.result, "value_integrity_ratio", "hashed"), 1.0);
  EXPECT_TRUE(measured_for(outcome.run.result, "collision_detection_seconds", "hashed"));
  EXPECT_NE(all_notes(outcome.run.result).find("collided in 1024 buckets"), std::string::npos);
  EXPECT_FALSE(measured_for(outcome.run.result, "collision_resolution_ratio", "bypass"));
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(CollisionProbe, AFullChainIsACollisionLeftUnresolved) {
  RedisServer server;
  // 64 keys in 16 buckets with one overflow slot each: at most 32 fit.
  auto outcome = test::run_probe_once(
      collision_config("tenants = 2, hashed_keys = 32, hash_bits = 4, max_chain = 1, "
                       "intrusions = 0"),
      topology_for(server), options_for(server));
  ASSERT_TRUE(outcome.run.ok) << first_error(outcome.run);
  auto resolution = measured_for(outcome.run.result, "collision_resolution_ratio", "hashed");
  ASSERT_TRUE(resolution.has_value());
  EXPECT_LT(*resolution, 1.0);
  auto integrity = measured_for(outcome.run.result, "value_integrity_ratio", "hashed");
  ASSERT_TRUE(integrity.has_value());
  EXPECT_LE(*integrity, 32.0 / 64);
  EXPECT_NE(all_notes(outcome.run.result).find("not found in its bucket"), std::string::npos);
}

TEST(CollisionProbe, ValuesDamagedBehindItsBackLowerIntegrity) {
  RedisServer server;
  long long without_ttl = -1;
  auto hook = [&](const std::string& base) {
    without_ttl = keys_without_ttl(server, base + "*");
    // A flipped payload byte: the checksum no longer matches.
    std::string key = base + "t0:k0";
    std::string value = server.cli({"GET", key});
    value[value.size() / 2] = value[value.size() / 2] == 'x' ? 'y' : 'x';
    server.cli({"SET", key, value, "PX", "60000"});
    // A plain SET by another tenant that nobody restores: caught by the read-back.
    std::string taken = base + "t2:k5";
    server.cli({"SET", taken, encode_owned_value("t3", "t2:k5", 9, 42, 64), "PX", "60000"});
    // A hashed key's value damaged in its bucket.
    std::string bucket = base + "h:" + collision_bucket("t1/item3", 1, 12);
    std::string hashed = server.cli({"GET", bucket});
    ASSERT_NE(hashed, "(nil)");
    server.cli({"SET", bucket, hashed.substr(0, hashed.size() - 1), "PX", "60000"});
  };
  auto run = run_with_hook(server, collision_config("intrusions = 1"), hook);
  ASSERT_TRUE(run.ok) << first_error(run);
  EXPECT_EQ(without_ttl, 0);
  EXPECT_EQ(measured_for(run.result, "value_integrity_ratio", "namespace"), 62.0 / 64);
  EXPECT_EQ(measured_for(run.result, "value_integrity_ratio", "hashed"), 255.0 / 256);
  const std::string notes = all_notes(run.result);
  EXPECT_NE(notes.find("namespace: 2 damaged value(s) (first: chaosd:{collision}:r1:t0:k0: "
                       "checksum mismatch)"),
            std::string::npos)
      << notes;
  EXPECT_NE(notes.find("hashed: 1 damaged value(s)"), std::string::npos) << notes;
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(CollisionProbe, TenantsReachTheNodeServingTheSlotOnACluster) {
  test::RedisCluster cluster;
  TargetConfig topology = test::cluster_topology_for(cluster.server(0));
  auto config = collision_config("intrusions = 2, hashed_keys = 32");
  config.target = "cluster";
  auto outcome = test::run_probe_once(config, topology, options_for(cluster.server(0)));
  EXPECT_TRUE(outcome.cleaned);
  expect_every_collision_handled(outcome.run, 2);
  for (size_t i = 0; i < cluster.size(); ++i) {
    EXPECT_EQ(cluster.server(i).count_keys("chaosd:*"), 0) << i;
  }
}

TEST(CollisionProbe, ACancelledRunStopsPromptlyAndLeavesNoKeys) {
  RedisServer server;
  // 80000 hashed writes one at a time cannot finish in 200 ms.
  auto outcome = test::run_probe_once(
      collision_config("tenants = 8, hashed_keys = 10000, hash_bits = 24, intrusions = 0"),
      topology_for(server), options_for(server), /*stop_after=*/true, /*runner_timeout=*/200ms);
  EXPECT_TRUE(outcome.run.timed_out);
  EXPECT_LT(outcome.run.duration_seconds, 2.0);
  EXPECT_TRUE(outcome.cleaned);
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(CollisionProbe, ADeadServerIsAFailedRunThatEndsByItself) {
  RedisServer server;
  server.kill_hard();
  auto outcome = test::run_probe_once(collision_config(""), topology_for(server),
                                      options_for(server), /*stop_after=*/false);
  EXPECT_FALSE(outcome.run.ok);
  EXPECT_FALSE(outcome.run.timed_out);
  ASSERT_FALSE(outcome.run.result.errors.empty());
  EXPECT_NE(outcome.run.result.errors[0].find("connecting the tenants"), std::string::npos)
      << outcome.run.result.errors[0];
  EXPECT_TRUE(outcome.run.result.measurements.empty());
}

void expect_rejected(const std::string& params, const std::string& key_path) {
  test::expect_params_rejected(collision_config(params), key_path);
}

TEST(CollisionProbe, RejectsBadParamsNamingTheKey) {
  expect_rejected("tenants = 1", "probes[0].params.tenants");
  expect_rejected("keys_per_tenant = 0", "probes[0].params.keys_per_tenant");
  expect_rejected("hash_bits = 40", "probes[0].params.hash_bits");
  expect_rejected("max_chain = 0", "probes[0].params.max_chain");
  expect_rejected("poll_interval = \"soon\"", "probes[0].params.poll_interval");
  expect_rejected("tenant = 3", "probes[0].params.tenant");
  expect_rejected("poll_interval = \"20ms\", max_wait = \"20ms\"",
                  "probes[0].params.poll_interval");
  // 20 intrusions x 1 s cannot fit in the 10 s timeout.
  expect_rejected("intrusions = 20", "probes[0].params.max_wait");
  EXPECT_NO_THROW(collision_probe_type().create(collision_config(""), "probes[0].params"));
}

}  // namespace
}  // namespace chaosd
