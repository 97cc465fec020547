#pragma once
// A real Prometheus server (the `prometheus` binary on PATH) for e2e tests: a free loopback port,
// its own temp data dir, bounded waits. It scrapes the given targets and loads the given rule
// files.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace chaosd::test {

class PrometheusProcess {
 public:
  struct Options {
    std::string job = "redis-chaosd";
    std::vector<std::string> targets;  // host:port scraped at /metrics
    std::vector<std::filesystem::path> rule_files;
    std::string interval = "1s";             // scrape and rule evaluation interval
    std::vector<std::string> alertmanagers;  // host:port
  };

  /// Writes prometheus.yml, starts Prometheus and waits until /-/ready answers 200. Throws
  /// std::runtime_error (with the log) if it does not within 20 s.
  explicit PrometheusProcess(const Options& options);
  /// SIGTERM, at most 10 s to exit, then SIGKILL.
  ~PrometheusProcess();
  PrometheusProcess(const PrometheusProcess&) = delete;
  PrometheusProcess& operator=(const PrometheusProcess&) = delete;

  int port() const { return port_; }
  std::string log() const;

  /// GET /api/v1/<path>?<query, url-encoded>; the parsed JSON answer, or a json null if nothing
  /// (or no JSON) answered.
  nlohmann::json api(const std::string& path,
                     const std::vector<std::pair<std::string, std::string>>& query = {}) const;
  /// The `data.result` array of an instant query (empty if the query failed).
  nlohmann::json query(const std::string& promql) const;

 private:
  TempDir dir_{"chaosd-prometheus"};
  int port_ = 0;
  pid_t pid_ = -1;
};

class AlertmanagerProcess {
 public:
  /// Starts prometheus-alertmanager with `config_file` (clustering off) and waits until /-/ready
  /// answers 200. Throws std::runtime_error (with the log) if it does not within 20 s.
  explicit AlertmanagerProcess(const std::filesystem::path& config_file);
  /// SIGTERM, at most 10 s to exit, then SIGKILL.
  ~AlertmanagerProcess();
  AlertmanagerProcess(const AlertmanagerProcess&) = delete;
  AlertmanagerProcess& operator=(const AlertmanagerProcess&) = delete;

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string log() const;
  /// GET /api/v2/alerts (active, silenced and inhibited); a json null if nothing answered.
  nlohmann::json alerts() const;

 private:
  TempDir dir_{"chaosd-alertmanager"};
  int port_ = 0;
  pid_t pid_ = -1;
};

/// Percent-encodes everything but RFC 3986 unreserved characters.
std::string url_encode(const std::string& text);

}  // namespace chaosd::test
