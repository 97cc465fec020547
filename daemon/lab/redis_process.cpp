#include "daemon/lab/redis_process.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "daemon/lab/subprocess.h"

namespace chaosd {

RedisProcess::RedisProcess(std::string name, std::filesystem::path dir, std::string binary,
                           uint16_t port, std::vector<std::string> config_lines)
    : name_(std::move(name)),
      dir_(std::move(dir)),
      binary_(std::move(binary)),
      port_(port),
      config_lines_(std::move(config_lines)) {}

RedisProcess::~RedisProcess() { kill_hard(); }

void RedisProcess::write_config() const {
  std::ofstream conf(dir_ / "redis.conf");
  conf << "port " << port_ << "\n"
       << "bind 127.0.0.1\n"
       << "dir " << dir_.string() << "\n"
       << "logfile " << (dir_ / "redis.log").string() << "\n"
       << "save \"\"\n"
       << "appendonly no\n"
       << "daemonize no\n"
       // Probes need expiry events; faults need DEBUG (loopback clients only).
       << "notify-keyspace-events Ex\n"
       << "enable-debug-command local\n"
       // Replicas of the lab sync at once instead of waiting 5 s for more replicas to join.
       << "repl-diskless-sync-delay 0\n"
       // A lab node stops at once; a primary would otherwise wait for its replicas to catch up.
       << "shutdown-timeout 0\n";
  for (const auto& line : config_lines_) conf << line << "\n";
}

Status RedisProcess::start() {
  if (pid_ > 0 && alive()) return Ok{};
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  write_config();
  std::string conf = (dir_ / "redis.conf").string();
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return Error{ErrorCode::internal, "fork failed for " + name_};
  if (pid == 0) {
    ::setpgid(0, 0);                        // terminal signals go to the daemon, not the lab
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);     // the daemon dies, its lab dies with it
    if (::getppid() != parent) ::_exit(1);  // the daemon died before prctl took effect
    ::execlp(binary_.c_str(), binary_.c_str(), conf.c_str(), nullptr);
    ::_exit(127);
  }
  pid_ = pid;
  exit_reason_.clear();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::string error;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!alive()) {
      return Error{ErrorCode::connect_failed,
                   name_ + ": redis-server exited at start (" + exit_reason_ + "): " + log_tail()};
    }
    auto pong = blocking_command(address(), {"PING"}, std::chrono::milliseconds(200), &error);
    if (pong && *pong == "PONG") return Ok{};
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill_hard();
  return Error{ErrorCode::timeout, name_ + ": no PONG within 10s: " + error};
}

std::string RedisProcess::log_tail() const {
  std::ifstream in(dir_ / "redis.log");
  std::string line;
  std::string last;
  while (std::getline(in, line)) {
    if (line.find('#') != std::string::npos) last = line;  // '#' marks warnings and errors
  }
  return last.empty() ? "no log" : last;
}

bool RedisProcess::alive() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    exit_reason_ = WIFEXITED(status) ? "exited with " + std::to_string(WEXITSTATUS(status))
                                     : "killed by signal " + std::to_string(WTERMSIG(status));
    pid_ = -1;
    return false;
  }
  return true;
}

void RedisProcess::request_stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGCONT);  // a paused server cannot act on SIGTERM
  ::kill(pid_, SIGTERM);
}

void RedisProcess::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return;
  request_stop();
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (alive() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill_hard();
}

void RedisProcess::kill_hard() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  exit_reason_ = "killed by signal 9";
  pid_ = -1;
}

}  // namespace chaosd
