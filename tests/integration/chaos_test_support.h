#pragma once
// Helpers for the chaos tests: a NodeSupervisor over RedisServer fixtures, fault contexts that
// point at a fixture, and a loop runner that waits for a condition (bounded).

#include <boost/asio.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>

#include "chaos/fault.h"
#include "chaos/registry.h"
#include "tests/support/loop.h"
#include "tests/support/redis_server.h"

namespace chaosd::test {

/// Kills and restarts RedisServer fixtures by their address ("127.0.0.1:port"). `fail_restarts`
/// makes the next N restarts fail, to test revert_failed.
class ServerNodes final : public NodeSupervisor {
 public:
  void add(RedisServer& server) { servers_[server.address()] = &server; }
  int fail_restarts = 0;
  int restarts = 0;
  Duration kill_delay{};  // a slow kill, to halt in the middle of an injection

  boost::asio::awaitable<Status> kill(const std::string& node) override {
    auto* server = find(node);
    if (server == nullptr) co_return Error{ErrorCode::not_found, "no node " + node};
    if (kill_delay > Duration::zero()) {
      boost::asio::steady_timer wait(co_await boost::asio::this_coro::executor);
      wait.expires_after(kill_delay);
      co_await wait.async_wait(boost::asio::use_awaitable);
    }
    server->kill_hard();
    co_return Ok{};
  }
  boost::asio::awaitable<Status> restart(const std::string& node) override {
    auto* server = find(node);
    if (server == nullptr) co_return Error{ErrorCode::not_found, "no node " + node};
    ++restarts;
    if (fail_restarts > 0) {
      --fail_restarts;
      co_return Error{ErrorCode::internal, "restart refused by the test"};
    }
    try {
      server->start();  // a no-op when it runs
    } catch (const std::exception& e) {
      co_return Error{ErrorCode::internal, e.what()};
    }
    co_return Ok{};
  }

 private:
  RedisServer* find(const std::string& node) {
    auto it = servers_.find(node);
    return it == servers_.end() ? nullptr : it->second;
  }
  std::map<std::string, RedisServer*> servers_;
};

/// A context aimed at `server` (target "main", node = its address).
inline FaultContext context_for(boost::asio::io_context& io, const RedisServer& server,
                                NodeSupervisor* nodes = nullptr) {
  FaultContext ctx;
  ctx.executor = io.get_executor();
  ctx.target = "main";
  ctx.node = server.address();
  ctx.connection.host = "127.0.0.1";
  ctx.connection.port = server.port();
  ctx.key_prefix = "chaosd-test";
  ctx.nodes = nodes;
  return ctx;
}

/// CONFIG GET <name> through the fixture's blocking client.
inline std::string config_value(const RedisServer& server, const std::string& name) {
  std::string reply = server.cli({"CONFIG", "GET", name});  // "name\nvalue"
  auto newline = reply.find('\n');
  if (newline == std::string::npos) throw std::runtime_error("CONFIG GET " + name + ": " + reply);
  return reply.substr(newline + 1);
}

/// Runs the loop until `done()` holds; false after `limit`.
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  io.restart();
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.run_for(std::chrono::milliseconds(10));
    if (io.stopped()) io.restart();
  }
  return done();
}

inline std::unique_ptr<Fault> make_fault(const std::string& type, const nlohmann::json& params) {
  auto fault = create_fault_from_json(type, params);
  if (!fault) throw std::runtime_error(fault.error().message);
  return std::move(fault.value());
}

}  // namespace chaosd::test

namespace chaosd::test {

enum class FaultStep { prepare, inject, revert };

/// Runs one step of `fault` on the loop; "" when it succeeded, else the error.
inline std::string run_step(boost::asio::io_context& io, Fault& fault, FaultContext& ctx,
                            FaultStep step) {
  return run_on_loop<std::string>(io, [&]() -> boost::asio::awaitable<std::string> {
    Status status = Ok{};
    switch (step) {
      case FaultStep::prepare:
        status = co_await fault.prepare(ctx);
        break;
      case FaultStep::inject:
        status = co_await fault.inject(ctx);
        break;
      case FaultStep::revert:
        status = co_await fault.revert(ctx);
        break;
    }
    co_return status ? std::string() : status.error().describe();
  });
}

/// prepare + inject; "" when both succeeded.
inline std::string prepare_and_inject(boost::asio::io_context& io, Fault& fault,
                                      FaultContext& ctx) {
  auto prepared = run_step(io, fault, ctx, FaultStep::prepare);
  if (!prepared.empty()) return prepared;
  return run_step(io, fault, ctx, FaultStep::inject);
}

}  // namespace chaosd::test
