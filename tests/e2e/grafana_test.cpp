// grafana/dashboards/*.json and deploy/prometheus/ rules against real data: the daemon runs the
// lab (config/lab.toml as shipped; its experiment is started over the API once Prometheus
// scrapes), a real Prometheus scrapes it with the rules loaded, and every query a dashboard would
// send is asked to that Prometheus: panel targets and annotations as range queries over the test
// (what Grafana sends for time series; instant targets as instant queries), template variables as
// the series query behind label_values(). Each must be valid PromQL and return data, and every
// metric name must exist in Prometheus. Recording rules must return data too; alert expressions
// must be valid. No Grafana binary is involved (none is packaged in Debian); the JSON structure
// is checked by the ctest deploy.grafana.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/daemon_process.h"
#include "tests/support/eventually.h"
#include "tests/support/prometheus_process.h"

namespace chaosd::test {
namespace {
using namespace std::chrono_literals;
namespace fs = std::filesystem;

const fs::path kSourceDir = CHAOSD_SOURCE_DIR;
// What Grafana puts for $__rate_interval with the provisioned 15 s scrape interval (4 x 15 s).
constexpr const char* kRateInterval = "1m";

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitizerBuild = true;
#else
constexpr bool kSanitizerBuild = false;
#endif

// A sanitizer build runs the probes several times slower: runs cut at their timeout (warming,
// serialization, eviction) and replica reads that come too late report no measurement. There,
// queries of probe measurements need only be valid; the normal build requires their data.
bool needs_timely_probe_runs(const std::string& promql) {
  return promql.find("redis_chaosd_measurement") != std::string::npos;
}

// Queries that cannot return data on the lab, with the reason. Keep it minimal: the test fails
// when an entry does return data, so that it is removed.
const std::map<std::string, std::string> kNoDataOnTheLab = {};

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Query {
  enum class Kind { kRange, kInstant, kSeries };
  std::string where;   // "overview.json panel "SLAs breached" A"
  std::string promql;  // variables substituted
  Kind kind = Kind::kRange;
  std::string label;  // kSeries: the label label_values() reads
};

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

// $__rate_interval -> kRateInterval, every template variable -> .* (what "All" sends); an error
// if a `$` is left: the expression uses a variable the dashboard does not define.
std::string substitute(std::string expr, const std::vector<std::string>& variables,
                       std::string& error) {
  replace_all(expr, "${__rate_interval}", kRateInterval);
  replace_all(expr, "$__rate_interval", kRateInterval);
  std::vector<std::string> names = variables;
  std::sort(names.begin(), names.end(),
            [](const auto& a, const auto& b) { return a.size() > b.size(); });
  for (const auto& name : names) {
    replace_all(expr, "${" + name + "}", ".*");
    replace_all(expr, "$" + name, ".*");
  }
  if (expr.find('$') != std::string::npos) error = "undefined variable in: " + expr;
  return expr;
}

void collect_panels(const nlohmann::json& panels, const std::string& file,
                    const std::vector<std::string>& variables, std::vector<Query>& queries,
                    std::vector<std::string>& errors) {
  for (const auto& panel : panels) {
    if (panel.contains("panels")) collect_panels(panel["panels"], file, variables, queries, errors);
    for (const auto& target : panel.value("targets", nlohmann::json::array())) {
      std::string where =
          file + " panel \"" + panel.value("title", "") + "\" " + target.value("refId", "?");
      if (!target.contains("expr")) {
        errors.push_back(where + ": no expr");
        continue;
      }
      std::string error;
      Query query{where, substitute(target["expr"], variables, error)};
      if (target.value("instant", false) && !target.value("range", false)) {
        query.kind = Query::Kind::kInstant;
      }
      if (!error.empty()) errors.push_back(where + ": " + error);
      queries.push_back(query);
    }
  }
}

// Every query of every dashboard; `errors` gets what is wrong before asking Prometheus.
std::vector<Query> dashboard_queries(std::vector<std::string>& errors, int& dashboards) {
  std::vector<Query> queries;
  dashboards = 0;
  const std::regex label_values(R"(^\s*label_values\((.+),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$)");
  for (const auto& entry : fs::directory_iterator(kSourceDir / "grafana/dashboards")) {
    if (entry.path().extension() != ".json") continue;
    std::string file = entry.path().filename().string();
    auto dashboard = nlohmann::json::parse(read_text(entry.path()), nullptr, false);
    if (dashboard.is_discarded()) {
      errors.push_back(file + ": not valid JSON");
      continue;
    }
    ++dashboards;
    std::vector<std::string> variables;
    for (const auto& variable : dashboard["templating"]["list"])
      variables.push_back(variable["name"]);
    for (const auto& variable : dashboard["templating"]["list"]) {
      if (variable.value("type", "") != "query") continue;
      std::string where = file + " variable $" + variable.value("name", "");
      std::string definition = variable.value("definition", "");
      std::smatch match;
      if (!std::regex_match(definition, match, label_values)) {
        errors.push_back(where + ": not label_values(<series>, <label>): " + definition);
        continue;
      }
      std::string error;
      queries.push_back(
          {where, substitute(match[1], variables, error), Query::Kind::kSeries, match[2]});
      if (!error.empty()) errors.push_back(where + ": " + error);
    }
    for (const auto& annotation : dashboard["annotations"]["list"]) {
      if (!annotation.contains("expr")) continue;
      std::string error;
      queries.push_back({file + " annotation \"" + annotation.value("name", "") + "\"",
                         substitute(annotation["expr"], variables, error)});
      if (!error.empty()) errors.push_back(queries.back().where + ": " + error);
    }
    collect_panels(dashboard["panels"], file, variables, queries, errors);
  }
  return queries;
}

// Metric names an expression reads: ours all start with redis_chaosd_ or process_ (no label
// name does), plus Prometheus' own `up`.
std::set<std::string> metric_names(const std::string& promql) {
  std::set<std::string> names;
  static const std::regex name(R"(\b(redis_chaosd_[A-Za-z0-9_:]+|process_[a-z_]+|up(?=\s*\{)))");
  for (auto it = std::sregex_iterator(promql.begin(), promql.end(), name);
       it != std::sregex_iterator(); ++it) {
    names.insert((*it)[1]);
  }
  return names;
}

std::vector<std::string> unknown_metrics(const std::string& promql,
                                         const std::set<std::string>& known) {
  std::vector<std::string> unknown;
  for (const auto& name : metric_names(promql)) {
    if (!known.count(name)) unknown.push_back(name);
  }
  return unknown;
}

// config/lab.toml as shipped, with its own state_dir.
std::string lab_config(const fs::path& state_dir, int& replaced) {
  std::istringstream in(read_text(kSourceDir / "config/lab.toml"));
  std::ostringstream out;
  std::string line, table;
  replaced = 0;
  while (std::getline(in, line)) {
    if (line.rfind("[", 0) == 0) table = line;
    if (table == "[daemon]" && line.rfind("state_dir", 0) == 0) {
      line = "state_dir = \"" + state_dir.string() + "\"";
      ++replaced;
    }
    out << line << "\n";
  }
  return out.str();
}

// The token the lab generates when none is configured (it prints it in its log).
std::string generated_token(const DaemonProcess& daemon) {
  const std::string marker = "generated one for this run: ";
  std::string log = daemon.log();
  auto at = log.find(marker);
  return at == std::string::npos ? "" : log.substr(at + marker.size(), 32);
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

struct Answer {
  std::string error;  // status "error": the query is invalid
  bool has_data = false;
};

Answer ask(const PrometheusProcess& prometheus, const Query& query, double start) {
  nlohmann::json reply;
  if (query.kind == Query::Kind::kRange) {
    reply = prometheus.api("query_range", {{"query", query.promql},
                                           {"start", std::to_string(start)},
                                           {"end", std::to_string(unix_now())},
                                           {"step", "1"}});
  } else if (query.kind == Query::Kind::kInstant) {
    reply = prometheus.api("query", {{"query", query.promql}});
  } else {
    reply = prometheus.api("series", {{"match[]", query.promql},
                                      {"start", std::to_string(start)},
                                      {"end", std::to_string(unix_now())}});
  }
  Answer answer;
  if (!reply.is_object()) return answer;  // no reply: asked again
  if (reply.value("status", "") != "success") {
    answer.error = reply.value("errorType", "") + ": " + reply.value("error", "");
    return answer;
  }
  const auto& data = reply["data"];
  if (query.kind == Query::Kind::kSeries) {
    for (const auto& series : data) answer.has_data |= series.contains(query.label);
  } else {
    for (const auto& series : data["result"]) {
      answer.has_data |= query.kind == Query::Kind::kInstant || !series["values"].empty();
    }
  }
  return answer;
}

TEST(Grafana, EveryDashboardQueryAndEveryRuleIsValidAndReturnsDataFromTheLab) {
  std::vector<std::string> problems;
  int dashboards = 0;
  auto queries = dashboard_queries(problems, dashboards);
  ASSERT_GE(dashboards, 6);
  ASSERT_GE(queries.size(), 100u);
  // The metric-name check can fail: a name that does not exist is reported.
  ASSERT_EQ(unknown_metrics("rate(redis_chaosd_no_such_total[1m]) / up{job=\"x\"}",
                            {"up", "redis_chaosd_probe_runs_total"}),
            std::vector<std::string>{"redis_chaosd_no_such_total"});

  TempDir state;
  int replaced = 0;
  std::string config = lab_config(state.path(), replaced);
  ASSERT_EQ(replaced, 1) << "config/lab.toml: no state_dir in [daemon]";
  unsetenv("REDIS_CHAOSD_TOKEN");  // the lab generates a token and logs it
  DaemonProcess daemon(config);
  PrometheusProcess::Options options;
  options.targets = {"127.0.0.1:" + std::to_string(daemon.port())};
  options.rule_files = {kSourceDir / "deploy/prometheus/redis-chaosd.rules.yml",
                        kSourceDir / "deploy/prometheus/redis-chaosd.alerts.yml"};
  PrometheusProcess prometheus(options);
  const double start = unix_now();

  // The rules as Prometheus loaded them: recording rules must return data like panels do;
  // alerting expressions must be valid (they return data only while they fire).
  nlohmann::json groups;
  for (int i = 0; i < 100 && groups.empty(); ++i) {
    auto rules = prometheus.api("rules");
    if (rules.is_object() && rules.contains("data")) groups = rules["data"]["groups"];
    if (groups.empty()) std::this_thread::sleep_for(100ms);
  }
  int recording = 0, alerting = 0;
  for (const auto& group : groups) {
    for (const auto& rule : group["rules"]) {
      std::string where = "rule " + rule.value("name", "") + " (" + rule.value("type", "") + ")";
      if (rule.value("type", "") == "recording") {
        ++recording;
        queries.push_back({where, rule["query"].get<std::string>()});
      } else {
        ++alerting;
        queries.push_back({where, rule["query"].get<std::string>(), Query::Kind::kInstant});
      }
    }
  }
  ASSERT_GE(recording, 14) << prometheus.log();
  ASSERT_GE(alerting, 8);

  // Run the lab's experiments now (they are scheduled every 15 minutes), once Prometheus has seen
  // the chaos counters at 0: the fault's series, annotations and counter increases then exist.
  ASSERT_TRUE(eventually(
      [&] { return !prometheus.query("redis_chaosd_chaos_injections_total").empty(); }, 30s))
      << daemon.log();
  const std::string token = generated_token(daemon);
  auto experiments =
      nlohmann::json::parse(http_get(daemon.port(), "/api/v1/experiments").body, nullptr, false);
  ASSERT_TRUE(experiments.is_object() && !experiments["experiments"].empty()) << experiments;
  for (const auto& experiment : experiments["experiments"]) {
    std::string name = experiment["name"];
    auto started =
        http_call(daemon.port(), "POST", "/api/v1/experiments/" + name + "/run", "", token);
    ASSERT_EQ(started.status, 202) << name << ": " << started.body;
  }

  // Ask every query until it returned data once, for at most 75 s (each probe runs once, the
  // fault comes and goes).
  std::vector<bool> has_data(queries.size(), false);
  std::vector<std::string> invalid(queries.size());
  std::vector<double> data_after(queries.size(), 0);
  auto pending = [&] {
    size_t count = 0;
    for (size_t i = 0; i < queries.size(); ++i) {
      bool exempt = kNoDataOnTheLab.count(queries[i].where) ||
                    queries[i].where.find("(alerting)") != std::string::npos ||
                    (kSanitizerBuild && needs_timely_probe_runs(queries[i].promql));
      count += (!has_data[i] && invalid[i].empty() && !exempt) ? 1 : 0;
    }
    return count;
  };
  auto deadline = std::chrono::steady_clock::now() + 75s;
  bool first = true;
  while (first || (pending() > 0 && std::chrono::steady_clock::now() < deadline)) {
    if (!first) std::this_thread::sleep_for(1s);
    first = false;
    for (size_t i = 0; i < queries.size(); ++i) {
      if (has_data[i] || !invalid[i].empty()) continue;
      auto answer = ask(prometheus, queries[i], start);
      if (!answer.error.empty()) invalid[i] = answer.error;
      has_data[i] = answer.has_data;
      if (has_data[i]) data_after[i] = unix_now() - start;
    }
  }

  for (size_t i = 0; i < queries.size(); ++i) {
    const auto& q = queries[i];
    bool alert = q.where.find("(alerting)") != std::string::npos;
    auto allowed = kNoDataOnTheLab.find(q.where);
    if (!invalid[i].empty()) {
      problems.push_back(q.where + ": invalid: " + invalid[i] + "\n    " + q.promql);
    } else if (allowed != kNoDataOnTheLab.end() && has_data[i]) {
      problems.push_back(q.where + ": returns data now: remove it from kNoDataOnTheLab");
    } else if (!alert && allowed == kNoDataOnTheLab.end() && !has_data[i]) {
      if (kSanitizerBuild && needs_timely_probe_runs(q.promql)) {
        std::cout << "sanitizer build, no data accepted: " << q.where << "\n";
      } else {
        problems.push_back(q.where + ": no data\n    " + q.promql);
      }
    }
  }

  // Every metric name exists in Prometheus (a typo cannot hide behind `or vector(0)`).
  std::set<std::string> known;
  auto names = prometheus.api("label/__name__/values");
  if (names.is_object() && names["data"].is_array()) {
    for (const auto& name : names["data"]) known.insert(name.get<std::string>());
  }
  known.insert("up");
  if (!known.count("redis_chaosd_target_up")) {
    problems.push_back("Prometheus has no redis_chaosd_target_up: the daemon was not scraped: " +
                       prometheus.api("targets").dump());
  }
  for (const auto& q : queries) {
    for (const auto& name : unknown_metrics(q.promql, known)) {
      problems.push_back(q.where + ": metric " + name + " does not exist");
    }
  }

  std::string report;
  for (const auto& p : problems) report += "  " + p + "\n";
  EXPECT_TRUE(problems.empty()) << problems.size() << " of " << queries.size()
                                << " queries have problems:\n"
                                << report << "daemon log (tail):\n"
                                << daemon.log().substr(
                                       daemon.log().size() > 4000 ? daemon.log().size() - 4000 : 0);
  RecordProperty("queries", static_cast<int>(queries.size()));
  // What bounds this test's duration: the last query to get data.
  auto last = std::max_element(data_after.begin(), data_after.end());
  if (last != data_after.end()) {
    std::cout << queries.size() << " queries; the last got data after " << *last
              << " s: " << queries[last - data_after.begin()].where << "\n";
  }
}

}  // namespace
}  // namespace chaosd::test
