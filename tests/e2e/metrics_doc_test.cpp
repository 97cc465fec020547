// docs/metrics.md is a checked reference: the metric tables there and the real daemon's /metrics
// must agree (names, types, label names), in both directions.

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "tests/support/daemon_process.h"
#include "tests/support/redis_server.h"

namespace chaosd::test {
namespace {
using namespace std::chrono_literals;

struct DocRow {
  std::string type;
  std::set<std::string> labels;
  bool chaos_only = false;
  bool not_exported_yet = false;
};

std::string trim(const std::string& s) {
  auto begin = s.find_first_not_of(" \t");
  auto end = s.find_last_not_of(" \t");
  return begin == std::string::npos ? "" : s.substr(begin, end - begin + 1);
}

std::vector<std::string> split_cells(const std::string& row) {
  std::vector<std::string> cells;
  std::string cell;
  bool in_code = false;
  for (char c : row) {
    if (c == '`') in_code = !in_code;
    if (c == '|' && !in_code) {
      cells.push_back(trim(cell));
      cell.clear();
    } else {
      cell += c;
    }
  }
  cells.push_back(trim(cell));
  return cells;  // cells[0] is before the first '|'
}

std::set<std::string> backticked(const std::string& text) {
  std::set<std::string> names;
  std::regex code("`([^`]+)`");
  for (std::sregex_iterator it(text.begin(), text.end(), code), end; it != end; ++it) {
    names.insert((*it)[1]);
  }
  return names;
}

// Every row of a metric table in docs/metrics.md: "| `name` | type | [labels |] meaning | unit |".
std::map<std::string, DocRow> documented_metrics() {
  std::ifstream in(std::filesystem::path(CHAOSD_SOURCE_DIR) / "docs/metrics.md");
  std::map<std::string, DocRow> rows;
  std::regex metric_name("`((redis_chaosd|process)_[a-z0-9_]+)`");
  bool has_labels_column = false;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("| name |", 0) == 0) {
      has_labels_column = line.find("| labels |") != std::string::npos;
      continue;
    }
    auto cells = split_cells(line);
    std::smatch match;
    if (cells.size() < 5 || !std::regex_match(cells[1], match, metric_name)) continue;
    DocRow row;
    row.type = cells[2];
    if (has_labels_column) row.labels = backticked(cells[3]);
    row.chaos_only = line.find("*(chaos only)*") != std::string::npos;
    row.not_exported_yet = line.find("*(not exported yet)*") != std::string::npos;
    rows[match[1]] = row;
  }
  return rows;
}

struct Family {
  std::string type;
  std::set<std::string> labels;  // label names seen on its samples (without `le`)
};

// Families of a Prometheus text exposition, from their TYPE lines and samples.
std::map<std::string, Family> exported_families(const std::string& text) {
  std::map<std::string, Family> families;
  std::istringstream lines(text);
  std::string line;
  std::regex type_line("^# TYPE (\\S+) (\\S+)$");
  std::regex label_name("([a-zA-Z_][a-zA-Z0-9_]*)=\"(?:[^\"\\\\]|\\\\.)*\"");
  while (std::getline(lines, line)) {
    std::smatch match;
    if (std::regex_match(line, match, type_line)) {
      families[match[1]].type = match[2];
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    auto brace = line.find('{');
    std::string name = line.substr(0, std::min(brace, line.find(' ')));
    if (!families.count(name)) {
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        std::string s = suffix;
        if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0 &&
            families.count(name.substr(0, name.size() - s.size()))) {
          name = name.substr(0, name.size() - s.size());
          break;
        }
      }
    }
    if (brace == std::string::npos) continue;
    std::string labels = line.substr(brace, line.rfind('}') - brace + 1);
    for (std::sregex_iterator it(labels.begin(), labels.end(), label_name), end; it != end; ++it) {
      if ((*it)[1] != "le") families[name].labels.insert((*it)[1]);
    }
  }
  return families;
}

bool ours(const std::string& name) {
  return name.rfind("redis_chaosd_", 0) == 0 || name.rfind("process_", 0) == 0;
}

TEST(MetricsDoc, EveryExportedFamilyIsDocumentedAndEveryDocumentedOneIsExported) {
  auto documented = documented_metrics();
  ASSERT_GE(documented.size(), 20u) << "docs/metrics.md tables not found or not parsed";

  // A replicated target (primary + replica) with probes that make every family appear:
  // latency (measurement, measurement_seconds), replication (replication_lag_seconds), ttl.
  RedisServer primary;
  RedisServer replica({"--replicaof", "127.0.0.1", std::to_string(primary.port())});
  primary.wait_for_replica(replica);
  DaemonProcess daemon(
      "[daemon]\nkey_prefix = \"chaosd\"\n"
      "[[targets]]\nname = \"main\"\nkind = \"replicated\"\naddress = \"" +
      primary.address() + "\"\nreplicas = [\"" + replica.address() +
      "\"]\n"
      "[[probes]]\ntype = \"latency\"\ninterval = \"200ms\"\n"
      "[[probes]]\ntype = \"replication\"\ninterval = \"300ms\"\n"
      "[[probes]]\ntype = \"ttl\"\ninterval = \"1s\"\ntimeout = \"4s\"\n"
      "params = { keys = 5, ttl = \"200ms\", reclaim_window = \"1s\" }\n");
  ASSERT_TRUE(daemon.wait_for(
      "/metrics",
      [](const HttpReply& r) {
        return r.status == 200 &&
               metric_value(r.body, "redis_chaosd_replication_lag_seconds").has_value() &&
               metric_value(r.body, "redis_chaosd_measurement_seconds_bucket").has_value() &&
               metric_value(r.body, "redis_chaosd_probe_runs_total", {"probe=\"ttl\""})
                       .value_or(0) >= 1;
      },
      20s))
      << daemon.log();
  auto exported = exported_families(http_get(daemon.port(), "/metrics").body);

  std::string problems;
  for (const auto& [name, family] : exported) {
    if (!ours(name)) continue;
    auto row = documented.find(name);
    if (row == documented.end()) {
      problems += "  exported but not in docs/metrics.md: " + name + " (" + family.type + ")\n";
      continue;
    }
    if (row->second.type != family.type) {
      problems += "  " + name + ": docs/metrics.md says " + row->second.type + ", /metrics says " +
                  family.type + "\n";
    }
    if (row->second.not_exported_yet) {
      problems += "  " + name + " is exported: remove its *(not exported yet)* mark\n";
    }
    for (const auto& label : family.labels) {
      if (!row->second.labels.count(label)) {
        problems +=
            "  " + name + ": label `" + label + "` is exported but not in its labels column\n";
      }
    }
  }
  for (const auto& [name, row] : documented) {
    if (exported.count(name) || row.chaos_only || row.not_exported_yet) continue;
    problems += "  in docs/metrics.md but not exported: " + name +
                " (mark it *(not exported yet)* if it is planned)\n";
  }
  EXPECT_TRUE(problems.empty()) << "docs/metrics.md and /metrics disagree:\n" << problems;
}

// The parser itself: a mismatch must be reported, not parsed away.
TEST(MetricsDoc, ParserSeesFamiliesTypesAndLabels) {
  auto families = exported_families(
      "# HELP a_total x\n# TYPE a_total counter\na_total{probe=\"p\",target=\"t=\\\"x\\\"\"} 1\n"
      "# TYPE h_seconds histogram\nh_seconds_bucket{le=\"0.1\",k=\"v\"} 1\n"
      "h_seconds_sum{k=\"v\"} 1\nh_seconds_count{k=\"v\"} 1\n");
  ASSERT_EQ(families.size(), 2u);
  EXPECT_EQ(families["a_total"].type, "counter");
  EXPECT_EQ(families["a_total"].labels, (std::set<std::string>{"probe", "target"}));
  EXPECT_EQ(families["h_seconds"].type, "histogram");
  EXPECT_EQ(families["h_seconds"].labels, (std::set<std::string>{"k"}));

  auto documented = documented_metrics();
  ASSERT_TRUE(documented.count("redis_chaosd_measurement"));
  EXPECT_EQ(documented["redis_chaosd_measurement"].type, "gauge");
  EXPECT_TRUE(documented["redis_chaosd_measurement"].labels.count("subject"));
  ASSERT_TRUE(documented.count("process_open_fds"));
  EXPECT_TRUE(documented["process_open_fds"].labels.empty());
  EXPECT_FALSE(documented.count("redis_chaosd_sla:burn_rate:rate<W>"));
}

}  // namespace
}  // namespace chaosd::test
