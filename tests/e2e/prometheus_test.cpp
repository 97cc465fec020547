// deploy/prometheus/ rules loaded into a real Prometheus (the Debian `prometheus` binary) that
// scrapes the real daemon probing a real redis-server: every rule group evaluates without error,
// every recording rule returns data, and alerts fire on what the daemon really exports.

#include <gtest/gtest.h>
#include <signal.h>

#include <cmath>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/daemon_process.h"
#include "tests/support/eventually.h"
#include "tests/support/prometheus_process.h"
#include "tests/support/redis_server.h"

namespace chaosd::test {
namespace {
using namespace std::chrono_literals;

const std::filesystem::path kRulesDir =
    std::filesystem::path(CHAOSD_SOURCE_DIR) / "deploy/prometheus";

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Names after "- record:" / "- alert:" in the rule files, as written (one per rule).
std::multiset<std::string> rule_names_in_files(const std::string& kind) {
  std::multiset<std::string> names;
  std::regex line("^\\s*-\\s*" + kind + ":\\s*(\\S+)\\s*$");
  for (const char* file : {"redis-chaosd.rules.yml", "redis-chaosd.alerts.yml"}) {
    std::istringstream lines(read_text(kRulesDir / file));
    std::string text;
    std::smatch match;
    while (std::getline(lines, text)) {
      if (std::regex_match(text, match, line)) names.insert(match[1]);
    }
  }
  return names;
}

std::string daemon_config(const RedisServer& redis) {
  // latency and ttl give every SLA events quickly. "impossible" can never hold (no command is
  // faster than 0 s): every one of its events is bad, so its burn rate is 1 / (1 - 0.99) = 100.
  return "[daemon]\nkey_prefix = \"chaosd\"\n"
         "[[targets]]\nname = \"main\"\naddress = \"" +
         redis.address() +
         "\"\nconnect_timeout = \"300ms\"\ncommand_timeout = \"300ms\"\n"
         "[[probes]]\ntype = \"latency\"\ninterval = \"200ms\"\ntimeout = \"2s\"\n"
         "[[probes]]\ntype = \"ttl\"\ninterval = \"1s\"\ntimeout = \"4s\"\n"
         "params = { keys = 5, ttl = \"200ms\", reclaim_window = \"1s\" }\n"
         "[[sla]]\nname = \"impossible\"\nprobe = \"latency\"\n"
         "measurement = \"get_latency_seconds\"\nthreshold = \"< 0\"\nobjective = 0.99\n";
}

PrometheusProcess::Options prometheus_options(const DaemonProcess& daemon) {
  PrometheusProcess::Options options;
  options.targets = {"127.0.0.1:" + std::to_string(daemon.port())};
  options.rule_files = {kRulesDir / "redis-chaosd.rules.yml",
                        kRulesDir / "redis-chaosd.alerts.yml"};
  return options;
}

struct RuleState {
  std::string name, type, health, last_error;
};

std::vector<RuleState> rules_of(const PrometheusProcess& prometheus) {
  std::vector<RuleState> rules;
  auto answer = prometheus.api("rules");
  if (!answer.is_object() || !answer.contains("data")) return rules;
  for (const auto& group : answer["data"]["groups"]) {
    for (const auto& rule : group["rules"]) {
      rules.push_back({rule.value("name", ""), rule.value("type", ""), rule.value("health", ""),
                       rule.value("lastError", "")});
    }
  }
  return rules;
}

bool has_finite_sample(const nlohmann::json& result) {
  for (const auto& sample : result) {
    const auto& value = sample["value"];
    if (value.is_array() && value.size() == 2 && value[1].is_string()) {
      double v = std::strtod(value[1].get<std::string>().c_str(), nullptr);
      if (std::isfinite(v)) return true;
    }
  }
  return false;
}

// Alerts of `alertname` in state `state` whose labels contain `labels`.
int count_alerts(const PrometheusProcess& prometheus, const std::string& alertname,
                 const std::string& state, const std::map<std::string, std::string>& labels = {}) {
  auto answer = prometheus.api("alerts");
  if (!answer.is_object() || !answer.contains("data")) return 0;
  int count = 0;
  for (const auto& alert : answer["data"]["alerts"]) {
    if (alert["labels"].value("alertname", "") != alertname || alert.value("state", "") != state) {
      continue;
    }
    bool all = true;
    for (const auto& [key, value] : labels) all = all && alert["labels"].value(key, "") == value;
    count += all ? 1 : 0;
  }
  return count;
}

TEST(Prometheus, LoadsEveryRuleEvaluatesThemWithoutErrorAndRecordingRulesReturnData) {
  RedisServer redis;
  DaemonProcess daemon(daemon_config(redis));
  PrometheusProcess prometheus(prometheus_options(daemon));

  // Every rule of the files is loaded.
  std::multiset<std::string> loaded_records, loaded_alerts;
  ASSERT_TRUE(eventually([&] { return !rules_of(prometheus).empty(); }, 10s)) << prometheus.log();
  for (const auto& rule : rules_of(prometheus)) {
    (rule.type == "recording" ? loaded_records : loaded_alerts).insert(rule.name);
  }
  auto records = rule_names_in_files("record");
  auto alerts = rule_names_in_files("alert");
  ASSERT_GE(records.size(), 14u);
  ASSERT_GE(alerts.size(), 8u);
  EXPECT_EQ(loaded_records, records);
  EXPECT_EQ(loaded_alerts, alerts);

  // Every rule evaluates without error, and every recording rule returns a finite sample: the
  // scrape has the series and labels the expressions expect.
  std::vector<std::string> problems;
  bool all_good = eventually(
      [&] {
        problems.clear();
        for (const auto& rule : rules_of(prometheus)) {
          if (rule.health != "ok") {
            problems.push_back(rule.name + ": health " + rule.health + " " + rule.last_error);
          } else if (rule.type == "recording" && !has_finite_sample(prometheus.query(rule.name))) {
            problems.push_back(rule.name + ": no finite sample");
          }
        }
        return problems.empty();
      },
      60s);
  std::string report;
  for (const auto& p : problems) report += "  " + p + "\n";
  EXPECT_TRUE(all_good) << "rules not ok after 60 s:\n"
                        << report << "daemon log:\n"
                        << daemon.log();

  // The burn rate computed from the event counters matches the SLA: every event of "impossible"
  // is bad, so its error ratio is 1 and its burn rate 100, in every window.
  for (const char* window : {"5m", "1h", "3d"}) {
    auto burn = prometheus.query(std::string("redis_chaosd_sla:burn_rate:rate") + window +
                                 "{sla=\"impossible\"}");
    ASSERT_EQ(burn.size(), 1u) << window << ": " << burn.dump();
    EXPECT_NEAR(std::stod(burn[0]["value"][1].get<std::string>()), 100.0, 1e-6) << window;
    EXPECT_EQ(burn[0]["metric"].value("job", ""), "redis-chaosd");
  }
  // A healthy default SLA of the ttl probe is computed as well (its error ratio is in [0, 1]).
  auto ttl =
      prometheus.query("redis_chaosd_sla:error_ratio:rate5m{sla=\"ttl_expiry_accuracy_ratio\"}");
  ASSERT_EQ(ttl.size(), 1u) << ttl.dump();
  double ttl_ratio = std::stod(ttl[0]["value"][1].get<std::string>());
  EXPECT_GE(ttl_ratio, 0.0);
  EXPECT_LE(ttl_ratio, 1.0);

  // The four burn alerts (2 pages, 2 tickets) fire for "impossible": they have no `for:` clause.
  EXPECT_TRUE(eventually(
      [&] {
        return count_alerts(prometheus, "RedisChaosdSlaErrorBudgetBurn", "firing",
                            {{"sla", "impossible"}}) == 4;
      },
      20s))
      << prometheus.api("alerts").dump(1);
  EXPECT_EQ(count_alerts(prometheus, "RedisChaosdSlaErrorBudgetBurn", "firing",
                         {{"sla", "impossible"}, {"severity", "page"}}),
            2);
  EXPECT_EQ(count_alerts(prometheus, "RedisChaosdSlaErrorBudgetBurn", "firing",
                         {{"sla", "impossible"}, {"severity", "ticket"}}),
            2);
}

TEST(Prometheus, TargetDownAndDaemonDownGoPendingWhenTheyDie) {
  RedisServer redis;
  DaemonProcess daemon(daemon_config(redis));
  PrometheusProcess prometheus(prometheus_options(daemon));
  // Wait until Prometheus has scraped target_up 1 and evaluated the alert rules on it.
  ASSERT_TRUE(eventually(
      [&] {
        auto up = prometheus.query("redis_chaosd_target_up{target=\"main\"} == 1");
        if (up.empty()) return false;
        for (const auto& rule : rules_of(prometheus)) {
          if (rule.name == "RedisChaosdTargetDown" && rule.health == "ok") return true;
        }
        return false;
      },
      30s))
      << prometheus.log();
  EXPECT_EQ(count_alerts(prometheus, "RedisChaosdTargetDown", "pending"), 0);
  EXPECT_EQ(count_alerts(prometheus, "RedisChaosdDown", "pending"), 0);

  redis.kill_hard();
  // `for: 2m` keeps it pending for the length of this test; pending proves the expression matches
  // the labels the daemon really exports.
  EXPECT_TRUE(eventually(
      [&] {
        return count_alerts(prometheus, "RedisChaosdTargetDown", "pending",
                            {{"target", "main"}, {"job", "redis-chaosd"}, {"severity", "page"}}) ==
               1;
      },
      30s))
      << prometheus.api("alerts").dump(1) << "\ndaemon log:\n"
      << daemon.log();

  // The daemon itself dies: RedisChaosdDown (for: 5m) goes pending on up{job="redis-chaosd"}.
  daemon.signal(SIGKILL);
  ASSERT_TRUE(daemon.wait_exit(5s).has_value());
  EXPECT_TRUE(eventually(
      [&] {
        return count_alerts(prometheus, "RedisChaosdDown", "pending",
                            {{"job", "redis-chaosd"}, {"severity", "page"}}) == 1;
      },
      30s))
      << prometheus.api("alerts").dump(1);
}

// Prometheus sends the burn alerts of "impossible" to a real Alertmanager running
// deploy/alertmanager/alertmanager.yml: the pages reach the receiver "page", the tickets of the
// same SLA are inhibited while it pages.
TEST(Prometheus, AlertmanagerRoutesPagesAndInhibitsTheTicketsOfAPagingSla) {
  AlertmanagerProcess alertmanager(std::filesystem::path(CHAOSD_SOURCE_DIR) /
                                   "deploy/alertmanager/alertmanager.yml");
  RedisServer redis;
  DaemonProcess daemon(daemon_config(redis));
  auto options = prometheus_options(daemon);
  options.alertmanagers = {alertmanager.address()};
  PrometheusProcess prometheus(options);

  struct Seen {
    int pages_active = 0, tickets_inhibited = 0, other = 0;
  };
  auto seen_now = [&] {
    Seen seen;
    auto alerts = alertmanager.alerts();
    if (!alerts.is_array()) return seen;
    for (const auto& alert : alerts) {
      const auto& labels = alert["labels"];
      if (labels.value("alertname", "") != "RedisChaosdSlaErrorBudgetBurn" ||
          labels.value("sla", "") != "impossible") {
        continue;
      }
      std::string receiver =
          alert["receivers"].empty() ? "" : alert["receivers"][0].value("name", "");
      std::string state = alert["status"].value("state", "");
      bool inhibited = !alert["status"]["inhibitedBy"].empty();
      if (labels.value("severity", "") == "page" && receiver == "page" && state == "active") {
        ++seen.pages_active;
      } else if (labels.value("severity", "") == "ticket" && receiver == "ticket" &&
                 state == "suppressed" && inhibited) {
        ++seen.tickets_inhibited;
      } else {
        ++seen.other;
      }
    }
    return seen;
  };
  Seen seen;
  bool routed = eventually(
      [&] {
        seen = seen_now();
        return seen.pages_active == 2 && seen.tickets_inhibited == 2;
      },
      45s);
  EXPECT_TRUE(routed) << "pages active: " << seen.pages_active
                      << ", tickets inhibited: " << seen.tickets_inhibited
                      << ", other: " << seen.other << "\n"
                      << alertmanager.alerts().dump(1) << "\nprometheus alerts:\n"
                      << prometheus.api("alerts").dump(1);
  EXPECT_EQ(seen.other, 0);
}

}  // namespace
}  // namespace chaosd::test
