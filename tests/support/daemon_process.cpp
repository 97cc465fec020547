#include "tests/support/daemon_process.h"

#include <fcntl.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/redis_server.h"

namespace chaosd::test {

namespace {

HttpReply to_reply(const httplib::Result& result) {
  if (!result) return {};
  return {result->status, result->body};
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

HttpReply http_get(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(1, 0);
  client.set_read_timeout(5, 0);
  return to_reply(client.Get(path));
}

HttpReply http_post(int port, const std::string& path, const std::string& body) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(1, 0);
  client.set_read_timeout(5, 0);
  return to_reply(client.Post(path, body, "application/json"));
}

HttpReply http_call(int port, const std::string& method, const std::string& path,
                    const std::string& body, const std::string& token) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(1, 0);
  client.set_read_timeout(30, 0);
  httplib::Headers headers;
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
  if (method == "POST") return to_reply(client.Post(path, headers, body, "application/json"));
  if (method == "DELETE") return to_reply(client.Delete(path, headers));
  return to_reply(client.Get(path, headers));
}

Completed run_program(const std::vector<std::string>& argv, const std::string& stdin_file) {
  TempDir dir("chaosd-run");
  auto out_path = dir.path() / "out";
  // Built before fork(): no allocation in the child of a multithreaded process.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(out, 1);
    ::dup2(out, 2);
    if (!stdin_file.empty()) {
      int in = ::open(stdin_file.c_str(), O_RDONLY);
      ::dup2(in, 0);
    }
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  Completed done;
  done.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  done.output = read_file(out_path);
  return done;
}

DaemonProcess::DaemonProcess(const std::string& config_toml, std::vector<std::string> extra_args) {
  config_path_ = dir_.write("chaosd.toml", config_toml);
  port_ = free_loopback_port();
  auto log_path = dir_.path() / "daemon.log";
  std::vector<std::string> argv = {CHAOSD_BINARY, "--config", config_path_.string(), "--listen",
                                   "127.0.0.1:" + std::to_string(port_)};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  // Built before fork(): no allocation in the child of a multithreaded process.
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(log, 1);
    ::dup2(log, 2);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  bool up = wait_for(
      "/healthz", [](const HttpReply& r) { return r.status == 200; }, std::chrono::seconds(10));
  if (!up) throw std::runtime_error("redis-chaosd did not come up; log:\n" + log());
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

void DaemonProcess::rewrite_config(const std::string& config_toml) const {
  std::ofstream(config_path_) << config_toml;
}

void DaemonProcess::signal(int signal_number) const {
  if (pid_ > 0) ::kill(pid_, signal_number);
}

std::optional<int> DaemonProcess::wait_exit(std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::nullopt;
}

std::string DaemonProcess::log() const { return read_file(dir_.path() / "daemon.log"); }

bool DaemonProcess::wait_for(const std::string& path,
                             const std::function<bool(const HttpReply&)>& predicate,
                             std::chrono::milliseconds limit) const {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate(http_get(port_, path))) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

std::optional<double> metric_value(const std::string& metrics_text, const std::string& metric,
                                   const std::vector<std::string>& label_fragments) {
  std::istringstream lines(metrics_text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.compare(0, metric.size(), metric) != 0) continue;
    char next = line.size() > metric.size() ? line[metric.size()] : '\0';
    if (next != '{' && next != ' ') continue;
    bool all = true;
    for (const auto& fragment : label_fragments)
      all = all && line.find(fragment) != std::string::npos;
    if (!all) continue;
    return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return std::nullopt;
}

}  // namespace chaosd::test
