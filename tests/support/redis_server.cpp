#include "tests/support/redis_server.h"

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <thread>

#include "daemon/lab/subprocess.h"

namespace chaosd::test {

RedisServer::RedisServer(std::vector<std::string> extra_args) : extra_args_(std::move(extra_args)) {
  // The port may be taken between our probe and redis' bind: try a few.
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = free_loopback_port();
    try {
      start();
      return;
    } catch (const std::exception&) {
      if (attempt == 4) throw;
    }
  }
}

RedisServer::~RedisServer() { kill_hard(); }

void RedisServer::start() {
  if (running()) return;
  std::vector<std::string> args = {"redis-server",
                                   "--port",
                                   std::to_string(port_),
                                   "--bind",
                                   "127.0.0.1",
                                   "--save",
                                   "",
                                   "--appendonly",
                                   "no",
                                   "--dir",
                                   dir_.path().string(),
                                   "--logfile",
                                   (dir_.path() / "redis.log").string(),
                                   "--notify-keyspace-events",
                                   "Ex",
                                   "--enable-debug-command",
                                   "local",
                                   "--repl-diskless-sync-delay",
                                   "0"};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  // Built before fork(): the child of a multithreaded process may only call async-signal-safe
  // functions (a malloc there can deadlock on a lock another thread held at the fork).
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::execvp("redis-server", argv.data());
    ::_exit(127);
  }
  pid_ = pid;
  wait_until_ready();
}

namespace {

// The integer after "<field>:" in an INFO text; -1 when absent.
long long info_integer(const std::string& info, const std::string& field) {
  auto at = info.find(field + ":");
  if (at == std::string::npos) return -1;
  return std::stoll(info.substr(at + field.size() + 1));
}

}  // namespace

void RedisServer::wait_for_replica(const RedisServer& replica) const {
  // The replica reports its link up, and the primary the replica online, up to a second before
  // the primary streams writes to it (it waits for the replica's first REPLCONF ACK), and a key
  // seen on the replica may have come with the initial snapshot. Only the replica's stream
  // offset reaching the primary's after a write proves that writes flow.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (true) {
    cli({"SET", "fixture:replica-sync", "1"});
    long long written = info_integer(cli({"INFO", "replication"}), "master_repl_offset");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    long long applied = info_integer(replica.cli({"INFO", "replication"}), "slave_repl_offset");
    if (written > 0 && applied >= written) break;
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("replica on port " + std::to_string(replica.port()) +
                               " never received writes from port " + std::to_string(port_));
    }
  }
  cli({"DEL", "fixture:replica-sync"});
}

void RedisServer::wait_until_ready() {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("redis-server exited during start (port " + std::to_string(port_) +
                               ")");
    }
    timeval timeout{0, 200'000};
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, timeout);
    bool ready = false;
    if (c != nullptr && c->err == 0) {
      auto* reply = static_cast<redisReply*>(redisCommand(c, "PING"));
      // An auth-protected server answers NOAUTH: it is up all the same.
      ready = reply != nullptr;
      if (reply) freeReplyObject(reply);
    }
    if (c) redisFree(c);
    if (ready) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill_hard();
  throw std::runtime_error("redis-server did not answer within 10s");
}

void RedisServer::kill_hard() {
  if (!running()) return;
  ::kill(pid_, SIGCONT);
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void RedisServer::stop() {
  if (!running()) return;
  ::kill(pid_, SIGCONT);
  ::kill(pid_, SIGTERM);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void RedisServer::pause() {
  if (running()) ::kill(pid_, SIGSTOP);
}

void RedisServer::resume() {
  if (running()) ::kill(pid_, SIGCONT);
}

std::string RedisServer::cli(const std::vector<std::string>& args) const {
  std::optional<std::string> password;
  for (size_t i = 0; i + 1 < extra_args_.size(); ++i) {
    if (extra_args_[i] == "--requirepass") password = extra_args_[i + 1];
  }
  std::string error;
  auto reply =
      blocking_command({"127.0.0.1", port_}, args, std::chrono::seconds(2), &error, password);
  if (!reply) throw std::runtime_error("test redis command failed: " + error);
  return *reply;
}

long long RedisServer::count_keys(const std::string& pattern) const {
  long long count = 0;
  std::string cursor = "0";
  do {
    timeval timeout{2, 0};
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, timeout);
    if (c == nullptr || c->err) throw std::runtime_error("cannot connect to test redis");
    auto* reply = static_cast<redisReply*>(
        redisCommand(c, "SCAN %s MATCH %s COUNT 1000", cursor.c_str(), pattern.c_str()));
    if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
      redisFree(c);
      throw std::runtime_error("SCAN failed");
    }
    cursor.assign(reply->element[0]->str, reply->element[0]->len);
    count += static_cast<long long>(reply->element[1]->elements);
    freeReplyObject(reply);
    redisFree(c);
  } while (cursor != "0");
  return count;
}

}  // namespace chaosd::test
