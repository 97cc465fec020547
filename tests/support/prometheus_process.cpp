#include "tests/support/prometheus_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/daemon_process.h"
#include "tests/support/redis_server.h"

namespace chaosd::test {

namespace {

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

pid_t start_process(std::vector<std::string> argv, const std::filesystem::path& log_path) {
  // Built before fork(): no allocation in the child of a multithreaded process.
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(log, 1);
    ::dup2(log, 2);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

// Polls /-/ready for 20 s; false (and pid set to -1) if the process exits or never gets ready.
bool wait_ready(pid_t& pid, int port) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (http_get(port, "/-/ready").status == 200) return true;
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      pid = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

void stop_process(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid, nullptr, WNOHANG) == pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

}  // namespace

std::string url_encode(const std::string& text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

PrometheusProcess::PrometheusProcess(const Options& options) {
  std::ostringstream config;
  config << "global:\n  scrape_interval: " << options.interval
         << "\n  scrape_timeout: " << options.interval
         << "\n  evaluation_interval: " << options.interval << "\nrule_files:\n";
  for (const auto& file : options.rule_files) config << "  - " << file.string() << "\n";
  config << "scrape_configs:\n  - job_name: " << options.job << "\n    static_configs:\n"
         << "      - targets:\n";
  for (const auto& target : options.targets) config << "          - '" << target << "'\n";
  if (!options.alertmanagers.empty()) {
    config << "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets:\n";
    for (const auto& target : options.alertmanagers) {
      config << "            - '" << target << "'\n";
    }
  }
  auto config_path = dir_.write("prometheus.yml", config.str());
  std::filesystem::create_directories(dir_.path() / "data");
  port_ = free_loopback_port();
  pid_ = start_process({"prometheus", "--config.file=" + config_path.string(),
                        "--storage.tsdb.path=" + (dir_.path() / "data").string(),
                        "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                        "--storage.tsdb.retention.time=1h"},
                       dir_.path() / "prometheus.log");
  if (!wait_ready(pid_, port_)) {
    stop_process(pid_);  // the destructor does not run when the constructor throws
    pid_ = -1;
    throw std::runtime_error("prometheus was not ready within 20 s; log:\n" + log());
  }
}

PrometheusProcess::~PrometheusProcess() { stop_process(pid_); }

std::string PrometheusProcess::log() const { return read_text(dir_.path() / "prometheus.log"); }

nlohmann::json PrometheusProcess::api(
    const std::string& path, const std::vector<std::pair<std::string, std::string>>& query) const {
  std::string url = "/api/v1/" + path;
  char separator = '?';
  for (const auto& [key, value] : query) {
    url += separator + url_encode(key) + "=" + url_encode(value);
    separator = '&';
  }
  auto reply = http_get(port_, url);
  if (reply.status == 0) return nullptr;
  auto json = nlohmann::json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
  return json.is_discarded() ? nlohmann::json() : json;
}

nlohmann::json PrometheusProcess::query(const std::string& promql) const {
  auto answer = api("query", {{"query", promql}});
  if (!answer.is_object() || answer.value("status", "") != "success") {
    return nlohmann::json::array();
  }
  return answer["data"]["result"];
}

AlertmanagerProcess::AlertmanagerProcess(const std::filesystem::path& config_file) {
  std::filesystem::create_directories(dir_.path() / "data");
  port_ = free_loopback_port();
  pid_ = start_process(
      {"prometheus-alertmanager", "--config.file=" + config_file.string(),
       "--storage.path=" + (dir_.path() / "data").string(),
       "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--cluster.listen-address="},
      dir_.path() / "alertmanager.log");
  if (!wait_ready(pid_, port_)) {
    stop_process(pid_);  // the destructor does not run when the constructor throws
    pid_ = -1;
    throw std::runtime_error("alertmanager was not ready within 20 s; log:\n" + log());
  }
}

AlertmanagerProcess::~AlertmanagerProcess() { stop_process(pid_); }

std::string AlertmanagerProcess::log() const { return read_text(dir_.path() / "alertmanager.log"); }

nlohmann::json AlertmanagerProcess::alerts() const {
  auto reply = http_get(port_, "/api/v2/alerts");
  if (reply.status != 200) return nullptr;
  auto json = nlohmann::json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
  return json.is_discarded() ? nlohmann::json() : json;
}

}  // namespace chaosd::test
