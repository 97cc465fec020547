// The HTML status page at / as a browser shows it: the daemon binary against a real redis-server,
// with SLAs that breach (ranked by their impact), a dry-run experiment run and an active fault,
// rendered by headless Chromium (Debian's `chromium`, installed by scripts/setup). Also the
// fault-labelled SLA events behind the page: /api/v1/sla and sla_fault_events_total.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "tests/support/daemon_process.h"
#include "tests/support/redis_server.h"

namespace chaosd::test {
namespace {
using namespace std::chrono_literals;
using nlohmann::json;

const std::string kToken = "e2e-status-page-token-0123456789";

std::string page_config(const RedisServer& redis, const TempDir& dir) {
  auto token_file = dir.write("token", kToken + "\n");
  return "[daemon]\nstate_dir = \"" + (dir.path() / "state").string() +
         "\"\n[chaos]\nenabled = true\ntoken_file = \"" + token_file.string() +
         "\"\n[[targets]]\nname = \"main\"\naddress = \"" + redis.address() +
         "\"\nchaos_allowed = true\n"
         "[[probes]]\ntype = \"latency\"\ntarget = \"main\"\ninterval = \"300ms\"\n"
         // Two SLAs that cannot be met, with very different stakes.
         "[[sla]]\nname = \"checkout-latency\"\nprobe = \"latency\"\n"
         "measurement = \"ping_latency_seconds\"\nthreshold = \"< 0\"\nobjective = 0.5\n"
         "impact = \"checkout sessions\"\nimpact_weight = 99999\n"
         "[[sla]]\nname = \"cheap-breach\"\nprobe = \"latency\"\n"
         "measurement = \"max_latency_seconds\"\nthreshold = \"< 0\"\nobjective = 0.5\n"
         "impact = \"internal report\"\nimpact_weight = 10\n"
         "[[experiments]]\nname = \"rehearsal\"\nfault = \"memory_pressure\"\ntarget = \"main\"\n"
         "duration = \"1s\"\ndry_run = true\nparams = { maxmemory = \"8mb\" }\n";
}

/// The DOM after Chromium loaded and rendered the page; "" when Chromium failed.
std::string render_in_chromium(int port, const TempDir& dir) {
  const std::string command =
      "timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
      "--no-first-run --user-data-dir=" +
      (dir.path() / "chromium").string() + " --dump-dom http://127.0.0.1:" + std::to_string(port) +
      "/ 2>/dev/null";
  Completed done = run_program({"sh", "-c", command});
  return done.exit_code == 0 ? done.output : "";
}

/// The rows (`<tr ...>...</tr>`) of the table with this id, header row first.
std::vector<std::string> rows_of(const std::string& dom, const std::string& table_id) {
  std::vector<std::string> rows;
  const auto start = dom.find("<table id=\"" + table_id + "\"");
  if (start == std::string::npos) return rows;
  const auto end = dom.find("</table>", start);
  const std::string table = dom.substr(start, end - start);
  for (auto at = table.find("<tr"); at != std::string::npos;) {
    const auto next = table.find("<tr", at + 3);
    rows.push_back(table.substr(at, next == std::string::npos ? std::string::npos : next - at));
    at = next;
  }
  return rows;
}

json sla_named(const DaemonProcess& daemon, const std::string& name) {
  auto body = json::parse(http_get(daemon.port(), "/api/v1/sla").body, nullptr, false);
  if (!body.is_object()) return json();
  for (const auto& sla : body["slas"]) {
    if (sla["name"] == name) return sla;
  }
  return json();
}

TEST(StatusPage, ChromiumShowsTargetsRankedBreachesFaultsAndRuns) {
  RedisServer redis;
  TempDir dir;
  DaemonProcess daemon(page_config(redis, dir));
  const int port = daemon.port();

  // A finished experiment run (a dry run: nothing injected).
  auto started = http_call(port, "POST", "/api/v1/experiments/rehearsal/run", "", kToken);
  ASSERT_EQ(started.status, 202) << started.body;
  const std::string run_id = json::parse(started.body).at("id");
  ASSERT_TRUE(daemon.wait_for(
      "/api/v1/runs",
      [&](const HttpReply& reply) {
        auto runs = json::parse(reply.body, nullptr, false);
        if (!runs.is_object()) return false;
        for (const auto& run : runs["runs"]) {
          if (run["id"] == run_id && run["state"] == "succeeded") return true;
        }
        return false;
      },
      20s))
      << daemon.log();

  // Both SLAs breach from the first measurements, before any fault: clean events.
  ASSERT_TRUE(daemon.wait_for(
      "/api/v1/sla",
      [&](const HttpReply&) {
        json sla = sla_named(daemon, "checkout-latency");
        return sla.is_object() && sla["met"] == false;
      },
      20s));
  json before = sla_named(daemon, "checkout-latency");
  EXPECT_EQ(before["impact"], "checkout sessions");
  EXPECT_EQ(before["impact_weight"], 99999);
  EXPECT_GT(before["clean"]["bad"].get<int>(), 0) << before;
  EXPECT_EQ(before["history"][0]["during_faults"], "") << before;

  // An active fault on the target: the events judged now are labelled with it.
  auto injected = http_call(
      port, "POST", "/api/v1/faults",
      R"({"fault":"memory_pressure","target":"main","duration":"60s","params":{"maxmemory":"64mb"}})",
      kToken);
  ASSERT_EQ(injected.status, 201) << injected.body;
  const std::string fault_id = json::parse(injected.body).at("id");
  ASSERT_TRUE(daemon.wait_for(
      "/api/v1/sla",
      [&](const HttpReply&) {
        json sla = sla_named(daemon, "checkout-latency");
        return sla.is_object() && sla["during_faults"]["bad"].get<int>() >= 2;
      },
      20s))
      << sla_named(daemon, "checkout-latency");
  auto metrics = http_get(port, "/metrics").body;
  auto fault_bad = metric_value(metrics, "redis_chaosd_sla_fault_events_total",
                                {"sla=\"checkout-latency\"", "result=\"bad\""});
  ASSERT_TRUE(fault_bad.has_value());
  EXPECT_GE(*fault_bad, 2);
  EXPECT_EQ(metric_value(metrics, "redis_chaosd_sla_impact_weight", {"sla=\"checkout-latency\""}),
            99999.0);

  // No external assets: the page works offline.
  const std::string raw = http_get(port, "/").body;
  EXPECT_EQ(raw.find("http://"), std::string::npos);
  EXPECT_EQ(raw.find("https://"), std::string::npos);
  EXPECT_EQ(raw.find("<script src"), std::string::npos);

  const std::string dom = render_in_chromium(port, dir);
  ASSERT_FALSE(dom.empty()) << "chromium did not render the page (is it installed? scripts/setup)";
  EXPECT_NE(dom.find("http-equiv=\"refresh\""), std::string::npos);  // refreshes itself

  auto targets = rows_of(dom, "targets");
  ASSERT_EQ(targets.size(), 2u) << dom;
  EXPECT_NE(targets[1].find(redis.address()), std::string::npos) << targets[1];
  EXPECT_NE(targets[1].find(">up<"), std::string::npos) << targets[1];

  // Breaches first, the costliest on top; then the met defaults.
  auto slas = rows_of(dom, "slas");
  ASSERT_GE(slas.size(), 5u) << dom;  // header, 2 configured, 2 latency defaults
  EXPECT_NE(slas[1].find("checkout-latency"), std::string::npos) << slas[1];
  EXPECT_NE(slas[1].find("checkout sessions"), std::string::npos) << slas[1];
  EXPECT_NE(slas[1].find("99999"), std::string::npos) << slas[1];
  EXPECT_NE(slas[1].find("BREACHED"), std::string::npos) << slas[1];
  EXPECT_NE(slas[2].find("cheap-breach"), std::string::npos) << slas[2];
  EXPECT_NE(slas[2].find("BREACHED"), std::string::npos) << slas[2];
  EXPECT_NE(dom.find("2 breached"), std::string::npos);

  auto faults = rows_of(dom, "faults");
  ASSERT_EQ(faults.size(), 2u) << dom;
  EXPECT_NE(faults[1].find(fault_id), std::string::npos) << faults[1];
  EXPECT_NE(faults[1].find("memory_pressure"), std::string::npos) << faults[1];

  auto runs = rows_of(dom, "runs");
  ASSERT_GE(runs.size(), 2u) << dom;
  EXPECT_NE(runs[1].find(run_id), std::string::npos) << runs[1];
  EXPECT_NE(runs[1].find("succeeded"), std::string::npos) << runs[1];

  EXPECT_EQ(http_call(port, "DELETE", "/api/v1/faults/" + fault_id, "", kToken).status, 200);
}

}  // namespace
}  // namespace chaosd::test
