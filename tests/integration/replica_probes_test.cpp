// What probes see on copies of the data: TTLs honoured by replica reads, and concurrent writes in
// several writable regions (they agree, or the regions that diverge are counted).

#include <gtest/gtest.h>

#include "daemon/probe_runner.h"
#include "tests/support/probe_harness.h"
#include "tests/support/redis_server.h"

namespace chaosd {
namespace {
using test::first_error;
using test::measured;
using test::not_applicable;
using test::options_for;
using test::probe_config;
using test::RedisServer;
using test::topology_for;

ProbeRun run_on(const RedisServer& server, const ProbeConfig& config,
                const TargetConfig& topology) {
  auto outcome = test::run_probe_once(config, topology, options_for(server));
  EXPECT_TRUE(outcome.cleaned);
  return outcome.run;
}

TargetConfig replicated(const RedisServer& primary, const RedisServer& replica) {
  TargetConfig topology = topology_for(primary);
  topology.kind = TargetKind::replicated;
  topology.replicas = {{"127.0.0.1", replica.port()}};
  return topology;
}

TEST(TtlOnReplicas, AReplicaReadHonoursTheDeadline) {
  RedisServer primary;
  RedisServer replica({"--replicaof", "127.0.0.1", std::to_string(primary.port())});
  primary.wait_for_replica(replica);
  // A TTL long enough that even a loaded machine replicates the keys before the "before" read.
  auto run = run_on(primary, probe_config("ttl", "keys = 6, ttl = \"1s\", margin = \"50ms\""),
                    replicated(primary, replica));
  ASSERT_TRUE(run.ok) << first_error(run);
  // Present just before the deadline (replicated by then), nil just after (the replica checks
  // the TTL on read even before the primary's DEL arrives).
  EXPECT_EQ(measured(run.result, "replica_expiry_accuracy_ratio", replica.address()), 1.0);
  EXPECT_EQ(replica.count_keys("chaosd:*"), 0);
}

TEST(TtlOnReplicas, AReplicaThatDoesNotFollowMissesEveryKeyBeforeItsDeadline) {
  RedisServer primary;
  RedisServer stray;  // listed as a replica, replicates nothing
  auto run = run_on(primary, probe_config("ttl", "keys = 4, ttl = \"300ms\", margin = \"50ms\""),
                    replicated(primary, stray));
  ASSERT_TRUE(run.ok) << first_error(run);
  // The "after" reads are right (nil), the "before" reads all wrong: half.
  EXPECT_EQ(measured(run.result, "replica_expiry_accuracy_ratio", stray.address()), 0.5);
  EXPECT_EQ(measured(run.result, "expiry_accuracy_ratio"), 1.0);  // the primary is fine
}

TEST(TtlOnReplicas, NotApplicableWithoutReplicas) {
  RedisServer server;
  auto run = run_on(server, probe_config("ttl", "keys = 2"), topology_for(server));
  ASSERT_TRUE(run.ok) << first_error(run);
  EXPECT_TRUE(not_applicable(run.result, "replica_expiry_accuracy_ratio"));
}

// A "regions" target whose regions a and b are both writable.
TargetConfig two_writers(const RedisServer& a, const RedisServer& b) {
  TargetConfig topology = topology_for(a);
  topology.kind = TargetKind::regions;
  topology.regions = {{"a", {"127.0.0.1", a.port()}, true}, {"b", {"127.0.0.1", b.port()}, true}};
  return topology;
}

TEST(ReplicationConflicts, IndependentPrimariesDivergeAndAreCounted) {
  RedisServer a;
  RedisServer b;  // not linked to a: nothing ever reconciles the two values
  auto run = run_on(a, probe_config("replication", "max_wait = \"200ms\""), two_writers(a, b));
  ASSERT_TRUE(run.ok) << first_error(run);
  EXPECT_EQ(measured(run.result, "divergent_regions_total"), 1.0);
  EXPECT_FALSE(measured(run.result, "conflict_resolution_seconds").has_value());
  // No read-only region: lag has nothing to measure.
  EXPECT_TRUE(not_applicable(run.result, "replication_lag_seconds"));
  // Cleanup reaches every writable region, not only the target's own address.
  EXPECT_EQ(a.count_keys("chaosd:*"), 0);
  EXPECT_EQ(b.count_keys("chaosd:*"), 0);
}

TEST(ReplicationConflicts, RegionsSharingOneStoreAgreeAtOnce) {
  RedisServer shared;  // both "regions" write the same store: the last write wins everywhere
  auto run = run_on(shared, probe_config("replication", "max_wait = \"500ms\""),
                    two_writers(shared, shared));
  ASSERT_TRUE(run.ok) << first_error(run);
  EXPECT_EQ(measured(run.result, "divergent_regions_total"), 0.0);
  auto resolved = measured(run.result, "conflict_resolution_seconds");
  ASSERT_TRUE(resolved.has_value());
  EXPECT_GE(*resolved, 0.0);
  EXPECT_LT(*resolved, 0.5);  // bounded by max_wait: it agreed within the run
}

TEST(ReplicationConflicts, ASingleWriterCannotConflict) {
  RedisServer primary;
  RedisServer replica({"--replicaof", "127.0.0.1", std::to_string(primary.port())});
  primary.wait_for_replica(replica);
  auto run = run_on(primary, probe_config("replication", ""), replicated(primary, replica));
  ASSERT_TRUE(run.ok) << first_error(run);
  EXPECT_TRUE(not_applicable(run.result, "conflict_resolution_seconds"));
  EXPECT_TRUE(not_applicable(run.result, "divergent_regions_total"));
}

}  // namespace
}  // namespace chaosd
