// The embedded lab run by the daemon binary: every topology comes up and is probed, and no
// redis-server outlives the daemon, whether it stops cleanly or is killed.

#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "daemon/lab/subprocess.h"
#include "tests/support/daemon_process.h"

namespace chaosd::test {
namespace {
using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string lab_config(const fs::path& state_dir, const std::string& topologies,
                       const std::string& extra = "") {
  return "[daemon]\nstate_dir = \"" + state_dir.string() + "\"\n[lab]\ntopologies = [" +
         topologies +
         "]\n[[probes]]\ntype = \"latency\"\ntarget = \"standalone\"\ninterval = \"200ms\"\n" +
         extra;
}

// Pids of the lab's redis-servers, from the pid files of every run directory.
std::vector<pid_t> lab_pids(const fs::path& state_dir) {
  std::vector<pid_t> pids;
  std::error_code ec;
  for (const auto& run : fs::directory_iterator(state_dir / "lab", ec)) {
    for (const auto& node : fs::directory_iterator(run.path(), ec)) {
      std::ifstream in(node.path() / "pid");
      pid_t pid = 0;
      if (in >> pid) pids.push_back(pid);
    }
  }
  return pids;
}

bool any_alive(const std::vector<pid_t>& pids) {
  for (pid_t pid : pids) {
    if (process_matches(pid, "redis-server")) return true;
  }
  return false;
}

bool wait_all_dead(const std::vector<pid_t>& pids) {
  for (int i = 0; i < 200 && any_alive(pids); ++i) std::this_thread::sleep_for(25ms);
  return !any_alive(pids);
}

TEST(Lab, EveryTopologyComesUpIsProbedAndStopsWithTheDaemon) {
  TempDir state;
  DaemonProcess daemon(lab_config(
      state.path(), R"("standalone", "replicated", "cluster", "regions")",
      "[[probes]]\ntype = \"replication\"\ntarget = \"regions\"\ninterval = \"300ms\"\n"));
  auto all_up = [](const HttpReply& r) {
    for (const char* t : {"standalone", "replicated", "cluster", "regions"}) {
      if (metric_value(r.body, "redis_chaosd_target_up", {"target=\"" + std::string(t) + "\""}) !=
          1.0) {
        return false;
      }
    }
    return true;
  };
  ASSERT_TRUE(daemon.wait_for("/metrics", all_up, 60s)) << daemon.log();
  auto pids = lab_pids(state.path());
  EXPECT_EQ(pids.size(), 12u);                  // 1 + 2 + 6 + 3
  EXPECT_FALSE(wait_all_dead({pids.front()}));  // sanity: they are running

  auto status = nlohmann::json::parse(http_get(daemon.port(), "/status").body);
  std::map<std::string, nlohmann::json> targets;
  for (const auto& t : status["targets"]) targets[t["name"]] = t;
  EXPECT_EQ(targets["cluster"]["kind"], "cluster");
  EXPECT_EQ(targets["regions"]["kind"], "regions");
  // Every node with its role: the cluster's three primaries own all 16384 slots between them.
  const auto& cluster_nodes = targets["cluster"]["nodes"];
  EXPECT_EQ(cluster_nodes.size(), 6u);
  int primaries_with_slots = 0;
  for (const auto& node : cluster_nodes) {
    EXPECT_EQ(node["up"], true);
    if (node["role"] == "primary" && node.contains("slots")) ++primaries_with_slots;
  }
  EXPECT_EQ(primaries_with_slots, 3);
  std::set<std::string> regions;
  for (const auto& node : targets["regions"]["nodes"]) regions.insert(node["region"]);
  EXPECT_EQ(regions, (std::set<std::string>{"a", "b", "c"}));
  EXPECT_EQ(targets["replicated"]["nodes"].size(), 2u);
  EXPECT_TRUE(daemon.wait_for(
      "/metrics",
      [](const HttpReply& r) {
        return metric_value(r.body, "redis_chaosd_probe_up", {"target=\"standalone\""}) == 1.0;
      },
      10s));

  // The regions' replicas replicate through proxy links with 20 ms and 60 ms of one-way latency:
  // the measured lag must include that delay. (The upper bound only catches gross errors; the
  // precision against this ground truth is measured in bench/, not asserted here.)
  auto lag_of = [](const std::string& metrics, const char* region) {
    return metric_value(metrics, "redis_chaosd_replication_lag_seconds",
                        {"region=\"" + std::string(region) + "\""});
  };
  ASSERT_TRUE(daemon.wait_for(
      "/metrics", [&](const HttpReply& r) { return lag_of(r.body, "b") && lag_of(r.body, "c"); },
      20s))
      << daemon.log();
  auto metrics = http_get(daemon.port(), "/metrics").body;
  EXPECT_GE(*lag_of(metrics, "b"), 0.020);
  EXPECT_LT(*lag_of(metrics, "b"), 0.060);
  EXPECT_GE(*lag_of(metrics, "c"), 0.060);
  EXPECT_LT(*lag_of(metrics, "c"), 0.100);

  daemon.signal(SIGTERM);
  auto code = daemon.wait_exit(30s);
  ASSERT_TRUE(code.has_value()) << daemon.log();
  EXPECT_EQ(*code, 0) << daemon.log();
  EXPECT_TRUE(wait_all_dead(pids));
  EXPECT_TRUE(lab_pids(state.path()).empty()) << "run directory left behind";
}

TEST(Lab, TheEvictionNodeIsATargetOfItsOwnWhereTheHotSetSurvives) {
  TempDir state;
  DaemonProcess daemon(lab_config(state.path(), R"("standalone", "eviction")",
                                  "[[probes]]\ntype = \"eviction\"\ntarget = \"eviction\"\n"
                                  "interval = \"1m\"\ntimeout = \"15s\"\n"));
  auto survival = [](const std::string& metrics) {
    return metric_value(metrics, "redis_chaosd_measurement",
                        {"target=\"eviction\"", "measurement=\"hot_set_survival_ratio\""});
  };
  ASSERT_TRUE(daemon.wait_for(
      "/metrics", [&](const HttpReply& r) { return survival(r.body).has_value(); }, 60s))
      << daemon.log();
  EXPECT_EQ(lab_pids(state.path()).size(), 2u);
  auto metrics = http_get(daemon.port(), "/metrics").body;
  // The lab's node: maxmemory 16mb, allkeys-lru, nobody else's keys.
  EXPECT_GE(*survival(metrics), 0.85) << metrics;
  EXPECT_GT(metric_value(metrics, "redis_chaosd_measurement",
                         {"target=\"eviction\"", "measurement=\"evicted_keys_total\""})
                .value_or(0),
            1000);
  daemon.signal(SIGTERM);
  auto code = daemon.wait_exit(30s);
  ASSERT_TRUE(code.has_value()) << daemon.log();
  EXPECT_EQ(*code, 0) << daemon.log();
}

TEST(Lab, SigkilledDaemonTakesItsLabAlongAndTheNextRunSweepsTheRest) {
  TempDir state;
  std::vector<pid_t> pids;
  {
    DaemonProcess daemon(lab_config(state.path(), R"("standalone", "replicated")"));
    ASSERT_TRUE(daemon.wait_for(
        "/metrics",
        [](const HttpReply& r) {
          return metric_value(r.body, "redis_chaosd_target_up", {"target=\"replicated\""}) == 1.0;
        },
        30s));
    pids = lab_pids(state.path());
    ASSERT_EQ(pids.size(), 3u);
    daemon.signal(SIGKILL);
    EXPECT_TRUE(daemon.wait_exit(10s).has_value());
  }
  // The kernel kills the lab with its parent (PR_SET_PDEATHSIG).
  EXPECT_TRUE(wait_all_dead(pids));
  ASSERT_FALSE(lab_pids(state.path()).empty()) << "the killed run left its directory";

  DaemonProcess next(lab_config(state.path(), R"("standalone")"));
  ASSERT_TRUE(next.wait_for(
      "/metrics",
      [](const HttpReply& r) {
        return metric_value(r.body, "redis_chaosd_target_up", {"target=\"standalone\""}) == 1.0;
      },
      30s));
  EXPECT_NE(next.log().find("removed leftovers of a previous run"), std::string::npos)
      << next.log();
  EXPECT_EQ(lab_pids(state.path()).size(), 1u);
}

TEST(Once, WithALabConfigStartsTheLabProbesItAndStopsIt) {
  TempDir state;
  auto config = state.write(
      "lab.toml", lab_config(state.path(), R"("standalone", "regions")",
                             "[[probes]]\ntype = \"replication\"\ntarget = \"regions\"\n"));
  auto report = state.path() / "report.json";
  auto once = run_program(
      {CHAOSD_BINARY, "--once", "--config", config.string(), "--report", report.string()});
  EXPECT_EQ(once.exit_code, 0) << once.output;
  std::ifstream in(report);
  auto json = nlohmann::json::parse(in);
  EXPECT_EQ(json["passed"], true) << json.dump(2);
  ASSERT_EQ(json["probes"].size(), 2u);
  for (const auto& probe : json["probes"]) EXPECT_EQ(probe["ok"], true) << probe.dump();
  // One writable region: the SLA on conflicts is shown as not applicable, with the reason.
  bool conflict_row = false;
  for (const auto& sla : json["slas"]) {
    if (sla["measurement"] != "conflict_resolution_seconds") continue;
    conflict_row = true;
    EXPECT_EQ(sla["result"], "n/a");
    EXPECT_NE(sla["reason"].get<std::string>().find("single-writer"), std::string::npos);
  }
  EXPECT_TRUE(conflict_row) << json.dump(2);
  // The lab stopped with the run: its run directory is gone.
  EXPECT_TRUE(lab_pids(state.path()).empty());
}

TEST(Once, WithADurationEveryProbeRunsOnItsInterval) {
  TempDir state;
  auto config = state.write("lab.toml", lab_config(state.path(), R"("standalone")"));
  auto report = state.path() / "report.json";
  auto once = run_program({CHAOSD_BINARY, "--once", "--duration", "1s", "--config",
                           config.string(), "--report", report.string()});
  EXPECT_EQ(once.exit_code, 0) << once.output;
  std::ifstream in(report);
  auto json = nlohmann::json::parse(in);
  // A 200 ms interval over 1 s: at most 6 runs (the first at once), and surely more than one.
  EXPECT_GE(json["probes"].size(), 2u) << json.dump(2);
  EXPECT_LE(json["probes"].size(), 6u) << json.dump(2);
}

}  // namespace
}  // namespace chaosd::test
