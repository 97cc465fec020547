// Probes on a cluster target: their hash-tagged keys live on one node, commands are routed there,
// and cleanup removes every key from the cluster.

#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include "daemon/probe_runner.h"
#include "probes/registry.h"
#include "tests/support/loop.h"
#include "tests/support/probe_harness.h"
#include "tests/support/redis_cluster.h"

namespace chaosd {
namespace {
namespace asio = boost::asio;
using namespace std::chrono_literals;

using test::measured;
using test::probe_config;

long long keys_in_cluster(test::RedisCluster& cluster) {
  long long total = 0;
  for (size_t i = 0; i < cluster.size(); ++i) {
    if (cluster.server(i).running()) total += cluster.server(i).count_keys("chaosd:*");
  }
  return total;
}

TEST(ClusterProbes, LatencyAndTtlRunOnAClusterAndLeaveNoKeys) {
  test::RedisCluster cluster;
  // Seed with a single node on purpose: the rest comes from the slot map.
  TargetConfig topology = test::cluster_topology_for(cluster.server(0));
  ConnectionOptions options;
  options.port = topology.port;
  asio::io_context io;
  SystemClock clock;
  for (const char* type : {"latency", "ttl"}) {
    // A wide margin: a loaded machine must not turn the accuracy reads into late reads. A 1 s TTL:
    // the replica must hold the keys by deadline - margin, and under a loaded CI (ctest -j2 next
    // to other clusters) replication once took longer than the default 250 ms.
    ProbeConfig config = std::string(type) == "ttl"
                             ? probe_config(type, "margin = \"50ms\", ttl = \"1s\"")
                             : probe_config(type);
    ProbeRunner runner(io.get_executor(), config,
                       find_probe_type(type)->create(config, "probes[0].params"), topology, options,
                       "chaosd", clock, [](const ProbeRun&) {});
    struct Outcome {
      ProbeRun run;
      long long keys_during = 0;
      bool cleaned = false;
    };
    auto outcome = test::run_on_loop<Outcome>(io, [&]() -> asio::awaitable<Outcome> {
      Outcome o;
      o.run = co_await runner.run_once();
      o.keys_during = keys_in_cluster(cluster);
      Status cleaned = co_await runner.stop(5s);
      o.cleaned = cleaned.ok();
      co_return o;
    });
    ASSERT_TRUE(outcome.run.ok) << type << ": "
                                << (outcome.run.result.errors.empty()
                                        ? ""
                                        : outcome.run.result.errors.front());
    EXPECT_TRUE(outcome.cleaned) << type;
    EXPECT_EQ(keys_in_cluster(cluster), 0) << type;
    if (std::string(type) == "latency") {
      EXPECT_EQ(measured(outcome.run.result, "availability_ratio"), 1.0);
      EXPECT_GT(outcome.keys_during, 0);  // the latency key existed, on the slot's owner
    } else {
      EXPECT_EQ(measured(outcome.run.result, "expiry_accuracy_ratio"), 1.0);
      // Expiry events come from the node owning the probe's slot, which the probe subscribed to.
      EXPECT_EQ(measured(outcome.run.result, "expired_reclaim_ratio"), 1.0);
      // The shard's replica is read too (after READONLY, else it would redirect every read).
      int replica_reads = 0;
      for (const auto& m : outcome.run.result.measurements) {
        if (m.name != "replica_expiry_accuracy_ratio" || !m.applicable()) continue;
        ++replica_reads;
        EXPECT_EQ(m.value, 1.0) << m.subject;
      }
      EXPECT_EQ(replica_reads, 1);  // the fixture gives every primary one replica
    }
  }
}

}  // namespace
}  // namespace chaosd
