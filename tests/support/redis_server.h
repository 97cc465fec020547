#pragma once
// A real redis-server process for one test, on a free loopback port, in its own temp dir. Never a
// fixed port: parallel runs must not collide.

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "daemon/lab/subprocess.h"
#include "tests/support/temp_dir.h"

namespace chaosd::test {

/// Finds a loopback TCP port that is free right now (the daemon's own helper).
using chaosd::free_loopback_port;

class RedisServer {
 public:
  /// Starts redis-server with `extra_args` (e.g. {"--requirepass", "s3cret"}) and waits until it
  /// answers PING. Throws std::runtime_error if it cannot.
  explicit RedisServer(std::vector<std::string> extra_args = {});
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

  void kill_hard();  // SIGKILL, as a crash would
  void stop();       // SIGTERM and wait
  void start();      // (re)start on the same port, waiting until it answers
  void pause();      // SIGSTOP: the socket stays open but nothing answers
  void resume();     // SIGCONT

  /// Runs a command with a blocking hiredis client (test-side only) and returns the reply rendered
  /// as text: strings as-is, integers in decimal, nil as "(nil)", errors as "ERR ...".
  std::string cli(const std::vector<std::string>& args) const;
  /// Number of keys matching `pattern` (SCAN, not KEYS).
  long long count_keys(const std::string& pattern) const;
  /// For a primary: waits until writes stream to `replica` (its replication offset catches up
  /// with a write). Link up and "state=online" come up to a second earlier. Writes and deletes
  /// the key "fixture:replica-sync". Throws after 10 s.
  void wait_for_replica(const RedisServer& replica) const;

 private:
  void wait_until_ready();
  TempDir dir_{"chaosd-redis"};
  std::vector<std::string> extra_args_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace chaosd::test
