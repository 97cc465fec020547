// The invalidation probe against real redis-server processes: on a healthy server every tracked
// key's invalidation reaches every service and the cascade leaves no stale read; a subscriber
// killed mid-run (CLIENT KILL from outside) costs invalidations and leaves stale dependents, and
// the next run recovers; a delayed network shows in propagation_seconds no sooner than physics
// allows; bad params are config errors; no run hangs or leaves keys behind.

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <nlohmann/json.hpp>
#include <sstream>

#include "chaos/proxy/proxy_link.h"
#include "daemon/probe_runner.h"
#include "probes/invalidation.h"
#include "probes/probe_keys.h"
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

const char* const kSubjects[] = {"single_level", "multi_level", "cross_service", "concurrent"};

ProbeConfig invalidation_config(const std::string& params_toml) {
  return test::probe_config("invalidation", params_toml);
}

std::optional<double> measured(const ProbeResult& result, const std::string& name,
                               const std::string& subject) {
  for (const auto& m : result.measurements) {
    if (m.name == name && m.subject == subject && m.applicable()) return m.value;
  }
  return std::nullopt;
}

void expect_healthy(const ProbeRun& run) {
  ASSERT_TRUE(run.ok) << first_error(run);
  for (const char* subject : kSubjects) {
    EXPECT_EQ(measured(run.result, "propagation_ratio", subject), 1.0) << subject;
    EXPECT_EQ(measured(run.result, "stale_reads_total", subject), 0.0) << subject;
    auto propagation = measured(run.result, "propagation_seconds", subject);
    ASSERT_TRUE(propagation.has_value()) << subject;
    EXPECT_GT(*propagation, 0.0) << subject;
    EXPECT_LT(*propagation, 5.0) << subject;  // generous: only a lost message would take this
  }
  EXPECT_TRUE(run.result.notes.empty()) << run.result.notes.front();
}

ProbeRun run_invalidation(const RedisServer& server, const ProbeConfig& config,
                          bool stop_after = true,
                          std::optional<Duration> runner_timeout = std::nullopt) {
  auto outcome = test::run_probe_once(config, topology_for(server), options_for(server), stop_after,
                                      runner_timeout);
  EXPECT_TRUE(outcome.cleaned);
  return outcome.run;
}

TEST(InvalidationProbe, EveryServiceHearsOfEveryKeyOnAHealthyServer) {
  RedisServer server;
  auto run = run_invalidation(server, invalidation_config("services = 3, fanout = 3, depth = 3"));
  expect_healthy(run);
  auto load = measured(run.result, "load_ops_per_second", "concurrent");
  ASSERT_TRUE(load.has_value());
  EXPECT_GT(*load, 0.0);
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(InvalidationProbe, TrackingGoesThroughRedirectedSubscribers) {
  RedisServer server;
  auto config = invalidation_config("services = 2, depth = 2, fanout = 2, load_clients = 1");
  asio::io_context io;
  SystemClock clock;
  ProbeRunner runner(
      io.get_executor(), config, invalidation_probe_type().create(config, "probes[0].params"),
      topology_for(server), options_for(server), "chaosd", clock, [](const ProbeRun&) {});
  std::string clients;
  auto run = test::run_on_loop<ProbeRun>(io, [&]() -> asio::awaitable<ProbeRun> {
    ProbeRun r = co_await runner.run_once();
    clients = server.cli({"CLIENT", "LIST"});  // the services stay connected between runs
    Status cleaned = co_await runner.stop(5s);
    EXPECT_TRUE(cleaned.ok());
    co_return r;
  });
  expect_healthy(run);
  // Each service's data connection redirects to its own subscriber, which is in Pub/Sub mode.
  std::istringstream lines(clients);
  int tracking = 0, subscribers = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find(":invalidations ") != std::string::npos &&
        line.find(" sub=1 ") != std::string::npos) {
      ++subscribers;
    }
    if (line.find("flags=t") != std::string::npos || line.find("flags=Nt") != std::string::npos) {
      ++tracking;
    }
  }
  EXPECT_EQ(subscribers, 2) << clients;
  EXPECT_EQ(tracking, 2) << clients;
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

// The id of the client whose name ends with `suffix`, from CLIENT LIST.
std::string client_id(const RedisServer& server, const std::string& suffix) {
  std::istringstream lines(server.cli({"CLIENT", "LIST"}));
  for (std::string line; std::getline(lines, line);) {
    auto name_at = line.find(" name=");
    if (name_at == std::string::npos) continue;
    auto name_end = line.find(' ', name_at + 1);
    std::string name = line.substr(name_at + 6, name_end - name_at - 6);
    if (name.size() >= suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return line.substr(3, line.find(' ') - 3);  // "id=<n> ..."
    }
  }
  return "";
}

// Three runs of one probe; 600 ms into the second, the client whose name ends with `suffix` is
// killed with CLIENT KILL from outside the probe.
struct KillOutcome {
  std::vector<ProbeRun> runs;
  std::string killed_id;
  std::string ttl_problem;
};

KillOutcome run_with_a_kill_mid_run(const RedisServer& server, const std::string& suffix) {
  // The concurrent scenario repeats rounds for 2 s: the kill, 600 ms into the run, lands in the
  // middle of it (the three scenarios before it take milliseconds). A round that misses
  // invalidations waits max_wait, so at least three whole rounds follow the one the kill hits.
  auto config = invalidation_config(
      "services = 3, fanout = 2, depth = 2, concurrent_roots = 2, load_clients = 2, "
      "load_duration = \"2s\", max_wait = \"300ms\"");
  asio::io_context io;
  SystemClock clock;
  ProbeRunner runner(
      io.get_executor(), config, invalidation_probe_type().create(config, "probes[0].params"),
      topology_for(server), options_for(server), "chaosd", clock, [](const ProbeRun&) {});
  KillOutcome outcome;
  outcome.runs =
      test::run_on_loop<std::vector<ProbeRun>>(io, [&]() -> asio::awaitable<std::vector<ProbeRun>> {
        std::vector<ProbeRun> out;
        out.push_back(co_await runner.run_once());  // healthy: connections set up
        auto kill = [&]() -> asio::awaitable<void> {
          co_await sleep_for(600ms);
          // Every key the probe holds mid-run has a TTL.
          std::istringstream keys(server.cli({"KEYS", "chaosd:*"}));
          for (std::string key; std::getline(keys, key);) {
            if (key.empty()) continue;
            long long pttl = std::stoll(server.cli({"PTTL", key}));
            if (pttl <= 0 && pttl != -2) {
              outcome.ttl_problem = key + " has PTTL " + std::to_string(pttl);
            }
          }
          outcome.killed_id = client_id(server, suffix);
          if (!outcome.killed_id.empty()) server.cli({"CLIENT", "KILL", "ID", outcome.killed_id});
        };
        auto group = asio::experimental::make_parallel_group(
            asio::co_spawn(io, runner.run_once(), asio::deferred),
            asio::co_spawn(io, kill(), asio::deferred));
        auto [order, run_error, run, kill_error] =
            co_await group.async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
        out.push_back(run);
        out.push_back(co_await runner.run_once());  // reconnected
        Status cleaned = co_await runner.stop(5s);
        EXPECT_TRUE(cleaned.ok());
        co_return out;
      });
  return outcome;
}

void expect_hurt_then_recovered(const KillOutcome& outcome, const std::string& service) {
  ASSERT_EQ(outcome.runs.size(), 3u);
  expect_healthy(outcome.runs[0]);
  EXPECT_TRUE(outcome.ttl_problem.empty()) << outcome.ttl_problem;

  const ProbeRun& hit = outcome.runs[1];
  ASSERT_TRUE(hit.ok) << first_error(hit);
  auto ratio = measured(hit.result, "propagation_ratio", "concurrent");
  ASSERT_TRUE(ratio.has_value());
  EXPECT_LT(*ratio, 1.0);
  auto stale = measured(hit.result, "stale_reads_total", "concurrent");
  ASSERT_TRUE(stale.has_value());
  EXPECT_GT(*stale, 0.0);
  ASSERT_EQ(hit.result.notes.size(), 1u);
  EXPECT_NE(hit.result.notes[0].find(service + " lost"), std::string::npos) << hit.result.notes[0];
  // Before the kill the earlier scenarios were whole.
  EXPECT_EQ(measured(hit.result, "propagation_ratio", "single_level"), 1.0);

  expect_healthy(outcome.runs[2]);
}

TEST(InvalidationProbe, ASubscriberKilledMidRunLosesInvalidationsAndLeavesStaleDependents) {
  RedisServer server;
  // Service 0 owns the root level of the first concurrent tree: that tree's cascade stops too.
  auto outcome = run_with_a_kill_mid_run(server, ":service0:invalidations");
  ASSERT_FALSE(outcome.killed_id.empty()) << "no client named *:service0:invalidations";
  expect_hurt_then_recovered(outcome, "service 0");
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(InvalidationProbe, ADataConnectionKilledMidRunLosesItsTracking) {
  RedisServer server;
  // The data connection comes back by itself, but a new connection tracks nothing: service 1
  // (which cascades the first level of the first concurrent tree) hears of nothing any more.
  auto outcome = run_with_a_kill_mid_run(server, ":service1");
  ASSERT_FALSE(outcome.killed_id.empty()) << "no client named *:service1";
  expect_hurt_then_recovered(outcome, "service 1");
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(InvalidationProbe, ADelayedNetworkShowsInPropagationNoSoonerThanPhysicsAllows) {
  RedisServer server;
  asio::io_context io;
  // Every byte from the server to the probe takes 50 ms more.
  ProxyLink link(io.get_executor(), "redis", {asio::ip::address_v4::loopback(), 0},
                 {asio::ip::address_v4::loopback(), server.port()});
  ASSERT_TRUE(link.start());
  auto spec = parse_toxic_spec(
      nlohmann::json{{"type", "latency"}, {"stream", "downstream"}, {"latency_ms", 50}});
  ASSERT_TRUE(spec);
  ASSERT_TRUE(link.add_toxic(spec.value()));
  auto config = invalidation_config(
      "services = 2, fanout = 2, depth = 2, concurrent_roots = 1, load_clients = 0, "
      "load_duration = \"0s\", max_wait = \"2s\"");
  TargetConfig topology = topology_for(server);
  topology.port = link.listen_port();
  ConnectionOptions options = options_for(server);
  options.port = link.listen_port();
  SystemClock clock;
  ProbeRunner runner(io.get_executor(), config,
                     invalidation_probe_type().create(config, "probes[0].params"), topology,
                     options, "chaosd", clock, [](const ProbeRun&) {});
  auto run = test::run_on_loop<ProbeRun>(io, [&]() -> asio::awaitable<ProbeRun> {
    ProbeRun r = co_await runner.run_once();
    Status cleaned = co_await runner.stop(5s);
    EXPECT_TRUE(cleaned.ok());
    co_return r;
  });
  ASSERT_TRUE(run.ok) << first_error(run);
  for (const char* subject : kSubjects) {
    EXPECT_EQ(measured(run.result, "propagation_ratio", subject), 1.0) << subject;
    EXPECT_EQ(measured(run.result, "stale_reads_total", subject), 0.0) << subject;
    auto propagation = measured(run.result, "propagation_seconds", subject);
    ASSERT_TRUE(propagation.has_value()) << subject;
    // A child's invalidation needs three trips down: the root's invalidation to its owner, the
    // owner's GET of the new value, the child's invalidation. Above the 100 ms default SLA.
    EXPECT_GE(*propagation, 0.150) << subject;
  }
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(InvalidationProbe, OneServiceAndOneLevelMarkTheirScenariosNotApplicable) {
  RedisServer server;
  auto run = run_invalidation(
      server, invalidation_config("services = 1, depth = 1, fanout = 4, load_clients = 0"));
  ASSERT_TRUE(run.ok) << first_error(run);
  for (const char* subject : {"single_level", "concurrent"}) {
    EXPECT_EQ(measured(run.result, "propagation_ratio", subject), 1.0) << subject;
    EXPECT_EQ(measured(run.result, "stale_reads_total", subject), 0.0) << subject;
  }
  for (const char* subject : {"multi_level", "cross_service"}) {
    EXPECT_FALSE(measured(run.result, "propagation_ratio", subject).has_value()) << subject;
    bool marked = false;
    for (const auto& m : run.result.measurements) {
      if (m.subject == subject && m.name == "propagation_ratio") marked = !m.applicable();
    }
    EXPECT_TRUE(marked) << subject;
  }
  EXPECT_FALSE(measured(run.result, "load_ops_per_second", "concurrent").has_value());
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

void expect_rejected(const std::string& params, const std::string& key_path) {
  test::expect_params_rejected(invalidation_config(params), key_path);
}

TEST(InvalidationProbe, RejectsBadParamsNamingTheKey) {
  expect_rejected("services = 0", "probes[0].params.services");
  expect_rejected("fanout = 17", "probes[0].params.fanout");
  expect_rejected("depth = 0", "probes[0].params.depth");
  expect_rejected("load_clients = -1", "probes[0].params.load_clients");
  expect_rejected("max_wait = \"soon\"", "probes[0].params.max_wait");
  expect_rejected("service = 3", "probes[0].params.service");
  // 16^3 + 16^2 + 16 + 1 keys in one tree.
  expect_rejected("fanout = 16, depth = 3", "probes[0].params.depth");
  expect_rejected("fanout = 8, depth = 3, concurrent_roots = 16",
                  "probes[0].params.concurrent_roots");
  // 4 x 2 s + 3 s of waits cannot fit in the 10 s timeout.
  expect_rejected("max_wait = \"2s\", load_duration = \"3s\"", "probes[0].params.max_wait");
  expect_rejected("value_ttl = \"5s\"", "probes[0].params.value_ttl");
  EXPECT_NO_THROW(invalidation_probe_type().create(invalidation_config(""), "probes[0].params"));
  EXPECT_EQ(invalidation_tree_size(3, 3), 40);
  EXPECT_EQ(invalidation_tree_size(1, 4), 5);
}

TEST(InvalidationProbe, ADeadServerIsAFailedRunThatEndsByItself) {
  RedisServer server;
  server.kill_hard();
  auto run = run_invalidation(server, invalidation_config(""), /*stop_after=*/false);
  EXPECT_FALSE(run.ok);
  EXPECT_FALSE(run.timed_out);
  ASSERT_FALSE(run.result.errors.empty());
  EXPECT_NE(run.result.errors[0].find("connect"), std::string::npos) << run.result.errors[0];
  EXPECT_TRUE(run.result.measurements.empty());
}

TEST(InvalidationProbe, ARunCancelledUnderLoadStopsAndLeavesNoKeys) {
  RedisServer server;
  // Rounds would repeat for 5 s; the run is cancelled after 300 ms.
  auto run = run_invalidation(server, invalidation_config("load_duration = \"5s\""),
                              /*stop_after=*/true, /*runner_timeout=*/300ms);
  EXPECT_TRUE(run.timed_out);
  EXPECT_FALSE(run.ok);
  EXPECT_LT(run.duration_seconds, 2.0);  // cancelled, not waited out
  EXPECT_EQ(server.count_keys("chaosd:*"), 0);
}

TEST(InvalidationProbe, TracksOnTheNodeServingTheSlotOnACluster) {
  test::RedisCluster cluster;
  TargetConfig topology = test::cluster_topology_for(cluster.server(0));
  ConnectionOptions options;
  options.port = topology.port;  // the seed: the services must go to the slot's owner instead
  auto config = invalidation_config("services = 2, fanout = 2, depth = 2, concurrent_roots = 2");
  config.target = "cluster";
  auto outcome = test::run_probe_once(config, topology, options);
  EXPECT_TRUE(outcome.cleaned);
  expect_healthy(outcome.run);
  for (size_t i = 0; i < cluster.size(); ++i) {
    EXPECT_EQ(cluster.server(i).count_keys("chaosd:*"), 0) << i;
  }
}

}  // namespace
}  // namespace chaosd
