// The serialization probe against a real redis-server: every document survives JSON and
// MessagePack round trips on a healthy server, values tampered with between SET and GET by a second
// connection lower the integrity ratio by exactly the damaged share, every value has a TTL and is
// gone after the run, bad params are config errors, and a cancelled run stops promptly.

#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include "daemon/probe_runner.h"
#include "probes/serialization.h"
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

ProbeConfig serialization_config(const std::string& params_toml) {
  return test::probe_config("serialization", params_toml);
}

std::optional<double> measured_for(const ProbeResult& result, const std::string& name,
                                   const std::string& subject) {
  for (const auto& m : result.measurements) {
    if (m.name == name && m.subject == subject && m.applicable()) return m.value;
  }
  return std::nullopt;
}

// One run through a ProbeRunner with `hook` installed, then stop() (which deletes the keys).
ProbeRun run_with_hook(const RedisServer& server, const ProbeConfig& config,
                       SerializationProbe::BetweenSetAndGet hook, bool stop_after = true) {
  auto probe = serialization_probe_type().create(config, "probes[0].params");
  static_cast<SerializationProbe&>(*probe).set_between_set_and_get(std::move(hook));
  asio::io_context io;
  SystemClock clock;
  ProbeRunner runner(io.get_executor(), config, std::move(probe), topology_for(server),
                     options_for(server), "chaosd", clock, [](const ProbeRun&) {});
  return test::run_on_loop<ProbeRun>(io, [&]() -> asio::awaitable<ProbeRun> {
    ProbeRun run = co_await runner.run_once();
    if (stop_after) {
      Status cleaned = co_await runner.stop(5s);
      EXPECT_TRUE(cleaned.ok());
    }
    co_return run;
  });
}

TEST(SerializationProbe, EveryDocumentSurvivesBothCodecsOnAHealthyServer) {
  RedisServer server;
  auto outcome =
      test::run_probe_once(serialization_config("sizes = [1024, 65536], ops = 40, pipeline = 8"),
                           topology_for(server), options_for(server));
  EXPECT_TRUE(outcome.cleaned);
  const ProbeRun& run = outcome.run;
  ASSERT_TRUE(run.ok) << first_error(run);
  for (const char* size : {"1KiB", "64KiB"}) {
    for (const char* format : {"raw", "json", "msgpack"}) {
      const std::string subject = std::string(format) + "/" + size;
      EXPECT_EQ(measured_for(run.result, "roundtrip_integrity_ratio", subject), 1.0) << subject;
      auto throughput = measured_for(run.result, "throughput_per_second", subject);
      ASSERT_TRUE(throughput.has_value()) << subject;
      EXPECT_GT(*throughput, 0) << subject;
      auto p99 = measured_for(run.result, "roundtrip_p99_seconds", subject);
      ASSERT_TRUE(p99.has_value()) << subject;
      EXPECT_GT(*p99, 0) << subject;
      // A codec's cost is measured against the same bytes moved raw; raw has no codec.
      auto overhead = measured_for(run.result, "codec_overhead_ratio", subject);
      EXPECT_EQ(overhead.has_value(), std::string(format) != "raw") << subject;
      if (overhead) {
        EXPECT_GE(*overhead, 0) << subject;
      }
    }
  }
  // Raw values are exactly the size; JSON documents are built to just reach it; MessagePack
  // encodes the same documents more compactly.
  EXPECT_EQ(measured_for(run.result, "encoded_bytes", "raw/64KiB"), 65536.0);
  auto json_bytes = measured_for(run.result, "encoded_bytes", "json/64KiB");
  auto msgpack_bytes = measured_for(run.result, "encoded_bytes", "msgpack/64KiB");
  ASSERT_TRUE(json_bytes && msgpack_bytes);
  EXPECT_GE(*json_bytes, 65536.0);
  EXPECT_LT(*json_bytes, 65536.0 + 1024);
  EXPECT_LT(*msgpack_bytes, *json_bytes);
  EXPECT_TRUE(run.result.notes.empty()) << run.result.notes.front();
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(SerializationProbe, OneMebibyteDocumentsRoundTripIntact) {
  RedisServer server;
  auto outcome = test::run_probe_once(serialization_config("sizes = [1048576], ops = 3"),
                                      topology_for(server), options_for(server));
  const ProbeRun& run = outcome.run;
  ASSERT_TRUE(run.ok) << first_error(run);
  for (const char* subject : {"raw/1MiB", "json/1MiB", "msgpack/1MiB"}) {
    EXPECT_EQ(measured_for(run.result, "roundtrip_integrity_ratio", subject), 1.0) << subject;
  }
  EXPECT_GE(*measured_for(run.result, "encoded_bytes", "json/1MiB"), 1048576.0);
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(SerializationProbe, ValuesOverwrittenBehindItsBackLowerIntegrity) {
  RedisServer server;
  // 20 operations per format in batches of 5: the second connection damages one value of each
  // format's first batch, between the probe's SET and its GET.
  std::set<std::string> tampered;
  auto hook = [&](std::string_view format, const std::vector<std::string>& keys) {
    if (!tampered.insert(std::string(format)).second) return;
    if (format == "json") {
      server.cli({"SET", keys[1], R"({"user":"mallory"})", "PX", "60000"});  // valid, wrong
    } else if (format == "msgpack") {
      server.cli({"SET", keys[2], "\xc1 not msgpack", "PX", "60000"});  // 0xc1: never used
    } else if (format == "raw") {
      server.cli({"DEL", keys[0]});
    }
  };
  auto run =
      run_with_hook(server, serialization_config("sizes = [2048], ops = 20, pipeline = 5"), hook);
  ASSERT_TRUE(run.ok) << first_error(run);
  EXPECT_EQ(measured_for(run.result, "roundtrip_integrity_ratio", "json/2KiB"), 19.0 / 20);
  EXPECT_EQ(measured_for(run.result, "roundtrip_integrity_ratio", "msgpack/2KiB"), 19.0 / 20);
  EXPECT_EQ(measured_for(run.result, "roundtrip_integrity_ratio", "raw/2KiB"), 19.0 / 20);
  std::string notes;
  for (const auto& n : run.result.notes) notes += n + "\n";
  EXPECT_NE(notes.find("json/2KiB: 1 of 20 values damaged"), std::string::npos) << notes;
  EXPECT_NE(notes.find("decoded document differs"), std::string::npos) << notes;
  EXPECT_NE(notes.find("does not decode as msgpack"), std::string::npos) << notes;
  EXPECT_NE(notes.find("the value was gone"), std::string::npos) << notes;
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(SerializationProbe, EveryValueHasATtlAndIsDeletedWhenTheRunEnds) {
  RedisServer server;
  int checked = 0;
  auto hook = [&](std::string_view, const std::vector<std::string>& keys) {
    for (const auto& key : keys) {
      long long pttl = std::stoll(server.cli({"PTTL", key}));
      EXPECT_GT(pttl, 0) << key;  // -1: no TTL, -2: not written
      ++checked;
    }
  };
  auto run = run_with_hook(server, serialization_config("sizes = [1024], ops = 10, pipeline = 4"),
                           hook, /*stop_after=*/false);
  ASSERT_TRUE(run.ok) << first_error(run);
  EXPECT_EQ(checked, 10 * 5);  // raw, json, json baseline, msgpack, msgpack baseline
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);  // the run itself removed its values
}

TEST(SerializationProbe, RoundTripsOnAClusterThroughTheSlotOwner) {
  test::RedisCluster cluster;
  TargetConfig topology = test::cluster_topology_for(cluster.server(0));
  ConnectionOptions options = options_for(cluster.server(0));
  auto config = serialization_config("sizes = [4096], ops = 20, pipeline = 4");
  config.target = "cluster";
  auto outcome = test::run_probe_once(config, topology, options);
  EXPECT_TRUE(outcome.cleaned);
  ASSERT_TRUE(outcome.run.ok) << first_error(outcome.run);
  for (const char* subject : {"raw/4KiB", "json/4KiB", "msgpack/4KiB"}) {
    EXPECT_EQ(measured_for(outcome.run.result, "roundtrip_integrity_ratio", subject), 1.0);
  }
  for (size_t i = 0; i < cluster.size(); ++i) {
    EXPECT_EQ(cluster.server(i).count_keys("chaosd:*"), 0) << i;
  }
}

TEST(SerializationProbe, ACancelledRunStopsPromptlyAndLeavesNoKeys) {
  RedisServer server;
  // Hundreds of 1 MiB documents cannot be done in 200 ms: the run is cancelled between batches.
  auto outcome = test::run_probe_once(
      serialization_config("sizes = [1048576], ops = 60, max_bytes = 67108864"),
      topology_for(server), options_for(server), /*stop_after=*/true, /*runner_timeout=*/200ms);
  EXPECT_TRUE(outcome.run.timed_out);
  EXPECT_FALSE(outcome.run.ok);
  EXPECT_LT(outcome.run.duration_seconds, 2.0);
  EXPECT_TRUE(outcome.cleaned);
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(SerializationProbe, ADeadServerIsAFailedRunThatEndsByItself) {
  RedisServer server;
  server.kill_hard();
  auto outcome = test::run_probe_once(serialization_config("sizes = [1024], ops = 4"),
                                      topology_for(server), options_for(server),
                                      /*stop_after=*/false);
  EXPECT_FALSE(outcome.run.ok);
  EXPECT_FALSE(outcome.run.timed_out);
  ASSERT_FALSE(outcome.run.result.errors.empty());
  EXPECT_NE(outcome.run.result.errors[0].find("1KiB payloads"), std::string::npos)
      << outcome.run.result.errors[0];
  EXPECT_FALSE(measured(outcome.run.result, "roundtrip_integrity_ratio").has_value());
}

void expect_rejected(const std::string& params, const std::string& key_path) {
  test::expect_params_rejected(serialization_config(params), key_path);
}

TEST(SerializationProbe, RejectsBadParamsNamingTheKey) {
  expect_rejected("sizes = 1024", "probes[0].params.sizes");
  expect_rejected("sizes = []", "probes[0].params.sizes");
  expect_rejected("sizes = [1024, \"16KiB\"]", "probes[0].params.sizes[1]");
  expect_rejected("sizes = [100]", "probes[0].params.sizes[0]");
  expect_rejected("sizes = [1024, 2048, 1024]", "probes[0].params.sizes");
  expect_rejected("sizes = [1, 2, 3, 4, 5, 6, 7, 8, 9]", "probes[0].params.sizes");
  expect_rejected("ops = 0", "probes[0].params.ops");
  expect_rejected("pipeline = 0", "probes[0].params.pipeline");
  expect_rejected("max_bytes = 10", "probes[0].params.max_bytes");
  expect_rejected("size = [1024]", "probes[0].params.size");
  // 100 x 16 MiB values per format: far over the per-run payload bound.
  expect_rejected("sizes = [16777216], ops = 100, max_bytes = 268435456",
                  "probes[0].params.max_bytes");
  EXPECT_NO_THROW(serialization_probe_type().create(serialization_config(""), "probes[0].params"));
}

}  // namespace
}  // namespace chaosd
