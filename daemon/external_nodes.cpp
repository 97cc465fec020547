#include "daemon/external_nodes.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstring>

#include "chaos/cluster_view.h"
#include "daemon/redis/connection.h"
#include "daemon/target_connection.h"

extern char** environ;

namespace chaosd {

namespace asio = boost::asio;
using std::chrono::steady_clock;

namespace {

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

// References, and named arguments at every call: GCC 12 mishandles temporaries with destructors
// inside co_await expressions.
asio::awaitable<void> sleep_for(const asio::any_io_executor& executor,
                                std::chrono::milliseconds time) {
  asio::steady_timer timer(executor, time);
  boost::system::error_code ignored;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
}

// Runs argv to completion without blocking the loop: waitpid(WNOHANG) every 50 ms, output
// drained from a non-blocking pipe as it comes (a chatty command never stalls on a full pipe).
asio::awaitable<Status> run_async(const asio::any_io_executor& executor,
                                  const std::vector<std::string>& command,
                                  std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = command;  // posix_spawnp wants mutable strings
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    co_return Error{ErrorCode::internal, "cannot create a pipe for " + argv[0]};
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (auto& arg : argv) args.push_back(arg.data());
  args.push_back(nullptr);
  pid_t pid = -1;
  const int spawned = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (spawned != 0) {
    ::close(pipe_fds[0]);
    co_return Error{ErrorCode::invalid_argument,
                    "cannot start " + argv[0] + ": " + std::strerror(spawned)};
  }
  std::string output;
  auto drain = [&] {
    char buffer[4096];
    for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof(buffer))) > 0;) {
      if (output.size() < 4096) output.append(buffer, static_cast<size_t>(n));
    }
  };
  const auto deadline = steady_clock::now() + timeout;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    drain();
    if (steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      ::close(pipe_fds[0]);
      co_return Error{ErrorCode::timeout, argv[0] + " did not finish within " +
                                              std::to_string(timeout.count()) + " ms (killed)"};
    }
    const std::chrono::milliseconds poll(50);
    co_await sleep_for(executor, poll);
  }
  drain();
  ::close(pipe_fds[0]);
  while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) co_return Ok{};
  const std::string how = WIFEXITED(status)
                              ? "exited with " + std::to_string(WEXITSTATUS(status))
                              : "was killed by signal " + std::to_string(WTERMSIG(status));
  co_return Error{ErrorCode::internal, argv[0] + " " + how + (output.empty() ? "" : ": " + output)};
}

}  // namespace

std::vector<std::string> expand_node_command(const std::vector<std::string>& argv,
                                             const std::string& node) {
  const auto address = split_address(node);
  const std::string host = address ? address->first : node;
  const std::string port = address ? std::to_string(address->second) : "";
  std::vector<std::string> out = argv;
  for (auto& arg : out) {
    replace_all(arg, "{node}", node);
    replace_all(arg, "{host}", host);
    replace_all(arg, "{port}", port);
  }
  return out;
}

ExternalNodes::ExternalNodes(asio::any_io_executor executor, const TargetConfig& target)
    : executor_(std::move(executor)), target_(target) {}

Result<ConnectionOptions> ExternalNodes::options_for(const std::string& node) const {
  const auto address = split_address(node);
  if (!address) {
    return Error{ErrorCode::invalid_argument, "node \"" + node + "\" is not host:port"};
  }
  ConnectionOptions options = connection_options(target_);
  options.host = address->first;
  options.port = address->second;
  options.client_name = "redis-chaosd:chaos:node_kill";
  options.connect_timeout = std::chrono::milliseconds(500);
  return options;
}

asio::awaitable<bool> ExternalNodes::answers_ping(const ConnectionOptions& options) {
  RedisConnection conn(executor_, options);
  Command ping{"PING"};
  auto reply = co_await conn.command(std::move(ping));
  co_return reply.ok();
}

asio::awaitable<Status> ExternalNodes::kill(const std::string& node) {
  const Result<ConnectionOptions> options = options_for(node);
  if (!options) co_return options.error();
  if (!target_.kill_command.empty()) {
    spdlog::warn("chaos: node_kill {}: running kill_command", node);
    const std::vector<std::string> argv = expand_node_command(target_.kill_command, node);
    const std::chrono::milliseconds timeout = kCommandTimeout;
    co_return co_await run_async(executor_, argv, timeout);
  }
  spdlog::warn("chaos: node_kill {}: SHUTDOWN NOSAVE", node);
  RedisConnection conn(executor_, options.value());
  Command shutdown{"SHUTDOWN", "NOSAVE"};
  auto reply = co_await conn.command(std::move(shutdown));
  // A server that shuts down closes the connection instead of answering.
  if (reply) {
    co_return Error{ErrorCode::internal,
                    "SHUTDOWN NOSAVE answered " + reply.value().debug_string()};
  }
  if (reply.error().code == ErrorCode::redis_error) {
    co_return Error{ErrorCode::internal, "SHUTDOWN NOSAVE refused: " + reply.error().message};
  }
  co_return Ok{};
}

asio::awaitable<Status> ExternalNodes::restart(const std::string& node) {
  const Result<ConnectionOptions> options = options_for(node);
  if (!options) co_return options.error();
  if (co_await answers_ping(options.value())) co_return Ok{};  // up already: nothing to do
  if (target_.restart_command.empty()) {
    co_return Error{ErrorCode::invalid_argument,
                    "target \"" + target_.name + "\" has no restart_command"};
  }
  spdlog::warn("chaos: node_kill {}: running restart_command", node);
  const std::vector<std::string> argv = expand_node_command(target_.restart_command, node);
  const std::chrono::milliseconds timeout = kCommandTimeout;
  auto restarted = co_await run_async(executor_, argv, timeout);
  if (!restarted) co_return restarted;
  const auto deadline = steady_clock::now() + kRestartTimeout;
  while (steady_clock::now() < deadline) {
    if (co_await answers_ping(options.value())) co_return Ok{};
    const std::chrono::milliseconds poll(100);
    co_await sleep_for(executor_, poll);
  }
  co_return Error{ErrorCode::timeout, "node " + node + " does not answer PING " +
                                          std::to_string(kRestartTimeout.count()) +
                                          " s after restart_command"};
}

}  // namespace chaosd
