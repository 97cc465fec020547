#pragma once
// One redis-server process of the lab: its own directory and redis.conf, started detached from
// the terminal's process group (Ctrl-C reaches the daemon, which then stops the lab in order) and
// killed by the kernel if the daemon dies (PR_SET_PDEATHSIG), so a crash leaves nothing running.

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "config/config.h"
#include "daemon/util/result.h"

namespace chaosd {

class RedisProcess {
 public:
  /// `config_lines` are appended to the generated redis.conf (e.g. "replicaof 127.0.0.1 7001").
  RedisProcess(std::string name, std::filesystem::path dir, std::string binary, uint16_t port,
               std::vector<std::string> config_lines);
  ~RedisProcess();
  RedisProcess(const RedisProcess&) = delete;
  RedisProcess& operator=(const RedisProcess&) = delete;

  /// Starts the process and waits (blocking, bounded) until it answers PING.
  Status start();
  /// Sends SIGTERM without waiting (stop many processes at once, then stop() each).
  void request_stop();
  /// SIGTERM, then SIGKILL after `grace`; waits for the process.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(3000));
  void kill_hard();
  /// False once the process has exited (reaps it).
  bool alive();
  /// The exit status text of a process that died, for reports ("killed by signal 9").
  const std::string& exit_reason() const { return exit_reason_; }

  const std::string& name() const { return name_; }
  NodeAddress address() const { return {"127.0.0.1", port_}; }
  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  void write_config() const;
  std::string log_tail() const;  // the last warning or error redis-server logged
  std::string name_;
  std::filesystem::path dir_;
  std::string binary_;
  uint16_t port_;
  std::vector<std::string> config_lines_;
  pid_t pid_ = -1;
  std::string exit_reason_;
};

}  // namespace chaosd
