// The Redis client against real redis-server processes: commands, pipelining, handshake,
// timeouts, and recovery when the server dies, hangs or restarts.

#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include "daemon/redis/connection.h"
#include "tests/support/loop.h"
#include "tests/support/redis_server.h"

namespace chaosd {
namespace {
namespace asio = boost::asio;
using test::RedisServer;
using test::run_on_loop;
using namespace std::chrono_literals;

ConnectionOptions options_for(const RedisServer& server) {
  ConnectionOptions o;
  o.port = server.port();
  o.client_name = "redis-chaosd:test";
  o.command_timeout = 500ms;
  o.connect_timeout = 500ms;
  o.backoff_initial = 20ms;
  o.backoff_max = 100ms;
  return o;
}

// "ok:<reply>" or "<error code>:<message>" so that assertions read naturally.
std::string describe(const Result<Reply>& r) {
  if (r) return "ok:" + r.value().debug_string();
  return std::string(to_string(r.error().code)) + ":" + r.error().message;
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(asio::use_awaitable);
}

TEST(RedisConnection, RunsCommandsAndNamesItself) {
  RedisServer server;
  asio::io_context io;
  RedisConnection conn(io.get_executor(), options_for(server));
  auto out = run_on_loop<std::string>(io, [&]() -> asio::awaitable<std::string> {
    auto set = co_await conn.call("SET", "chaosd:t:k", "v1", "PX", "10000");
    auto get = co_await conn.call("GET", "chaosd:t:k");
    auto name = co_await conn.call("CLIENT", "GETNAME");
    co_return describe(set) + " " + describe(get) + " " + describe(name);
  });
  EXPECT_EQ(out, "ok:OK ok:\"v1\" ok:\"redis-chaosd:test\"");
}

TEST(RedisConnection, ServerErrorsAreErrors) {
  RedisServer server;
  asio::io_context io;
  RedisConnection conn(io.get_executor(), options_for(server));
  auto out = run_on_loop<std::string>(io, [&]() -> asio::awaitable<std::string> {
    co_return describe(co_await conn.call("NOSUCHCOMMAND"));
  });
  EXPECT_EQ(out.rfind("redis error:ERR unknown command", 0), 0u) << out;
}

TEST(RedisConnection, PipelinesManyCommandsInOrder) {
  RedisServer server;
  asio::io_context io;
  RedisConnection conn(io.get_executor(), options_for(server));
  constexpr int kCount = 2000;
  auto sum = run_on_loop<long long>(io, [&]() -> asio::awaitable<long long> {
    std::vector<Command> commands;
    for (int i = 0; i < kCount; ++i)
      commands.push_back({"INCRBY", "chaosd:t:ctr", std::to_string(i)});
    auto results = co_await conn.pipeline(std::move(commands));
    long long last = -1;
    for (auto& r : results) {
      if (!r || r.value().integer() <= last) co_return -1;  // replies must come back in order
      last = r.value().integer();
    }
    co_return last;
  });
  EXPECT_EQ(sum, static_cast<long long>(kCount) * (kCount - 1) / 2);
}

// Replies wake their callers right after the read that brought them; the callers then send more
// on the same connection while other callers of that read are still to be woken.
TEST(RedisConnection, ManyCallersShareOneConnection) {
  RedisServer server;
  asio::io_context io;
  RedisConnection conn(io.get_executor(), options_for(server));
  constexpr int kCallers = 20;
  constexpr int kRounds = 50;
  std::vector<long long> last(kCallers, -1);
  int finished = 0;
  for (int c = 0; c < kCallers; ++c) {
    asio::co_spawn(
        io,
        [&, c]() -> asio::awaitable<void> {
          std::string key = "chaosd:t:caller:" + std::to_string(c);
          long long count = 0;  // what INCR must answer next
          for (int r = 0; r < kRounds; ++r) {
            if (r % 2 == 0) {
              auto one = co_await conn.call("INCR", key);
              if (!one || one.value().integer() != ++count) co_return;
            } else {
              std::vector<Command> incr_twice{{"INCR", key}, {"INCR", key}};
              auto two = co_await conn.pipeline(std::move(incr_twice));
              if (!two[0] || two[0].value().integer() != ++count) co_return;
              if (!two[1] || two[1].value().integer() != ++count) co_return;
            }
            last[static_cast<size_t>(c)] = r;
          }
          ++finished;
        },
        asio::detached);
  }
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (finished < kCallers && std::chrono::steady_clock::now() < deadline) {
    io.run_for(50ms);
  }
  for (int c = 0; c < kCallers; ++c) EXPECT_EQ(last[static_cast<size_t>(c)], kRounds - 1) << c;
}

// A caller may drop its connection as soon as a reply wakes it, while the link that delivered the
// reply is still inside its read (an ASan build sees any use after free).
TEST(RedisConnection, CallerMayDestroyItsConnectionWhenWoken) {
  RedisServer server;
  asio::io_context io;
  auto out = run_on_loop<std::string>(io, [&]() -> asio::awaitable<std::string> {
    std::string log;
    for (int i = 0; i < 3; ++i) {
      auto conn = std::make_unique<RedisConnection>(io.get_executor(), options_for(server));
      std::vector<Command> commands{{"PING"}, {"ECHO", "x"}};
      auto replies = co_await conn->pipeline(std::move(commands));
      conn.reset();
      log += describe(replies[0]) + "," + describe(replies[1]) + " ";
    }
    co_return log;
  });
  EXPECT_EQ(out, "ok:PONG,ok:\"x\" ok:PONG,ok:\"x\" ok:PONG,ok:\"x\" ");
}

TEST(RedisConnection, AuthenticatesAndSelectsDatabase) {
  RedisServer server({"--requirepass", "s3cret"});
  asio::io_context io;
  auto options = options_for(server);
  options.password = "s3cret";
  options.db = 3;
  RedisConnection conn(io.get_executor(), options);
  auto out = run_on_loop<std::string>(io, [&]() -> asio::awaitable<std::string> {
    auto set = co_await conn.call("SET", "chaosd:t:db3", "x", "PX", "10000");
    co_return describe(set);
  });
  EXPECT_EQ(out, "ok:OK");
  EXPECT_EQ(server.cli({"SELECT", "3"}), "OK");
  // cli() opens a new connection per call; check db 3 holds the key via a MOVE-free lookup.
  EXPECT_EQ(server.cli({"EVAL", "redis.call('SELECT', 3) return redis.call('EXISTS', KEYS[1])", "1",
                        "chaosd:t:db3"}),
            "1");
}

TEST(RedisConnection, WrongPasswordIsAConnectError) {
  RedisServer server({"--requirepass", "s3cret"});
  asio::io_context io;
  auto options = options_for(server);
  options.password = "wrong";
  RedisConnection conn(io.get_executor(), options);
  auto out = run_on_loop<std::string>(io, [&]() -> asio::awaitable<std::string> {
    co_return describe(co_await conn.call("PING"));
  });
  EXPECT_NE(out.find("connect failed"), std::string::npos) << out;
  EXPECT_NE(out.find("AUTH failed"), std::string::npos) << out;
}

TEST(RedisConnection, RefusedConnectionFailsFastThenBacksOff) {
  uint16_t port = test::free_loopback_port();  // nobody listens here
  asio::io_context io;
  ConnectionOptions options;
  options.port = port;
  options.backoff_initial = 10s;
  RedisConnection conn(io.get_executor(), options);
  auto out = run_on_loop<std::string>(io, [&]() -> asio::awaitable<std::string> {
    auto first = co_await conn.call("PING");
    auto second = co_await conn.call("PING");  // inside the backoff: no new attempt
    co_return describe(first) + " | " + describe(second);
  });
  EXPECT_NE(out.find("connect failed:"), std::string::npos) << out;
  EXPECT_NE(out.find("disconnected:not connected (next attempt in"), std::string::npos) << out;
}

TEST(RedisConnection, RecoversAfterServerKilledAndRestarted) {
  RedisServer server;
  asio::io_context io;
  RedisConnection conn(io.get_executor(), options_for(server));
  auto out = run_on_loop<std::string>(io, [&]() -> asio::awaitable<std::string> {
    std::string log = describe(co_await conn.call("PING"));
    server.kill_hard();
    log += " " + std::string(to_string((co_await conn.call("PING")).error().code));
    server.start();
    // Within a bounded number of attempts the connection must come back by itself.
    for (int i = 0; i < 100; ++i) {
      auto r = co_await conn.call("PING");
      if (r) co_return log + " " + describe(r);
      co_await sleep_for(20ms);
    }
    co_return log + " never recovered: " + conn.last_error();
  });
  EXPECT_EQ(out, "ok:PONG disconnected ok:PONG");
  EXPECT_GE(conn.reconnects(), 2u);
}

TEST(RedisConnection, HungServerTimesOutAndRecovers) {
  RedisServer server;
  asio::io_context io;
  RedisConnection conn(io.get_executor(), options_for(server));
  auto out = run_on_loop<std::string>(io, [&]() -> asio::awaitable<std::string> {
    std::string log = describe(co_await conn.call("PING"));
    server.pause();  // connection stays open, nothing answers
    auto started = std::chrono::steady_clock::now();
    Command ping{"PING"};
    auto hung = co_await conn.command(ping, 200ms);
    auto waited = std::chrono::steady_clock::now() - started;
    log += " " + std::string(to_string(hung.error().code));
    // The deadline is honoured (generously bounded: this only guards against a hang).
    if (waited > 5s) log += " (waited too long)";
    server.resume();
    for (int i = 0; i < 100; ++i) {
      auto r = co_await conn.call("PING");
      if (r) co_return log + " " + describe(r);
      co_await sleep_for(20ms);
    }
    co_return log + " never recovered";
  });
  EXPECT_EQ(out, "ok:PONG timeout ok:PONG");
}

TEST(RedisConnection, CancelledCommandLeavesConnectionUsable) {
  using namespace asio::experimental::awaitable_operators;
  RedisServer server;
  asio::io_context io;
  RedisConnection conn(io.get_executor(), options_for(server));
  auto out = run_on_loop<std::string>(io, [&]() -> asio::awaitable<std::string> {
    // BLPOP blocks on the server for 0.3s; a 20ms timer wins and cancels our wait.
    Command blpop{"BLPOP", "chaosd:t:empty", "0.3"};
    auto race = co_await (conn.command(blpop, 2s) || sleep_for(20ms));
    std::string log = race.index() == 1 ? "timer-won" : "blpop-won";
    log += " " + describe(co_await conn.call("PING"));
    co_return log;
  });
  EXPECT_EQ(out, "timer-won ok:PONG");
}

TEST(RedisConnection, SubscribeDeliversKeyspaceNotifications) {
  RedisServer server;  // started with notify-keyspace-events Ex
  asio::io_context io;
  RedisConnection sub(io.get_executor(), options_for(server));
  RedisConnection cmd(io.get_executor(), options_for(server));
  auto out = run_on_loop<std::string>(io, [&]() -> asio::awaitable<std::string> {
    std::vector<std::string> expired;
    std::vector<std::string> channels{"__keyevent@0__:expired"};
    Link::MessageHandler on_message = [&](const Reply& m) {
      if (m.is_array() && m.elements().size() == 3 && m.elements()[0].str() == "message") {
        expired.push_back(m.elements()[2].str());
      }
    };
    auto st = co_await sub.subscribe(channels, false, std::move(on_message));
    if (!st) co_return "subscribe failed: " + st.error().message;
    co_await sleep_for(50ms);
    (void)co_await cmd.call("SET", "chaosd:t:exp", "1", "PX", "30");
    for (int i = 0; i < 100 && expired.empty(); ++i) co_await sleep_for(20ms);
    co_return expired.empty() ? std::string("none") : expired.front();
  });
  EXPECT_EQ(out, "chaosd:t:exp");
}

}  // namespace
}  // namespace chaosd
