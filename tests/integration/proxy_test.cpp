// The fault proxy without toxics, over real loopback sockets: byte-exact relaying, the link and
// registry lifecycle, and robustness when peers or upstream go away. Toxics: proxy_toxics_test.cpp.

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <nlohmann/json.hpp>

#include "chaos/proxy/fault_proxy.h"
#include "daemon/redis/connection.h"
#include "tests/integration/proxy_test_support.h"
#include "tests/support/loop.h"
#include "tests/support/redis_server.h"

namespace chaosd {
namespace {
using namespace std::chrono_literals;
using test::connect_to;
using test::EchoServer;
using test::run_on_loop;
namespace asio = boost::asio;
using asio::ip::tcp;

tcp::endpoint loopback(uint16_t port) { return {asio::ip::address_v4::loopback(), port}; }

TEST(ProxyLink, RelaysOneMegabyteBothWaysByteExact) {
  asio::io_context io;
  EchoServer echo(io);
  ProxyLink link(io.get_executor(), "echo", loopback(0), loopback(echo.port()));
  ASSERT_TRUE(link.start());
  ASSERT_NE(link.listen_port(), 0);
  const std::string payload = test::random_bytes(1 << 20, 42);
  uint64_t active_while_open = 0;
  auto echoed = run_on_loop<std::string>(io, [&]() -> asio::awaitable<std::string> {
    tcp::socket client = co_await connect_to(link.listen_port());
    // Write and read at once: the echo cannot send back more than the buffers hold otherwise.
    asio::co_spawn(io, test::write_all(client, payload), asio::detached);
    auto received = co_await test::read_exact(client, payload.size());
    active_while_open = link.stats().connections_active;
    co_return received;
  });
  EXPECT_TRUE(echoed == payload) << "the relay changed, lost or reordered bytes";
  EXPECT_EQ(link.stats().bytes_upstream, payload.size());
  EXPECT_EQ(link.stats().bytes_downstream, payload.size());
  EXPECT_EQ(link.stats().connections_accepted, 1u);
  EXPECT_EQ(active_while_open, 1u);
}

TEST(ProxyLink, ManySmallRoundTripsOnSeveralConnections) {
  asio::io_context io;
  EchoServer echo(io);
  ProxyLink link(io.get_executor(), "echo", loopback(0), loopback(echo.port()));
  ASSERT_TRUE(link.start());
  auto active = run_on_loop<uint64_t>(io, [&]() -> asio::awaitable<uint64_t> {
    tcp::socket a = co_await connect_to(link.listen_port());
    tcp::socket b = co_await connect_to(link.listen_port());
    for (int i = 0; i < 200; ++i) {
      const std::string message = "message " + std::to_string(i);
      (void)co_await test::echo_round_trip(i % 2 == 0 ? a : b, message);
    }
    co_return link.stats().connections_active;
  });
  EXPECT_EQ(active, 2u);
  EXPECT_EQ(echo.counters().connections, 2u);
}

TEST(ProxyLink, OnlyLoopbackAddresses) {
  asio::io_context io;
  ProxyLink wide(io.get_executor(), "wide", tcp::endpoint(asio::ip::address_v4::any(), 0),
                 loopback(6379));
  auto st = wide.start();
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("listen address 0.0.0.0:0 is not loopback"), std::string::npos)
      << st.error().message;
  ProxyLink remote(io.get_executor(), "remote", loopback(0),
                   tcp::endpoint(asio::ip::make_address("10.1.2.3"), 6379));
  auto remote_st = remote.start();
  ASSERT_FALSE(remote_st);
  EXPECT_NE(remote_st.error().message.find("upstream address 10.1.2.3:6379 is not loopback"),
            std::string::npos);

  FaultProxy proxy(io.get_executor());
  auto bad = proxy.add_link("x", "192.168.1.1:0", "127.0.0.1:6379");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("not a loopback address"), std::string::npos);
  EXPECT_TRUE(proxy.add_link("v6", "[::1]:0", "127.0.0.1:6379")) << "::1 is loopback";
}

TEST(ProxyLink, UpstreamDownClosesTheClientAndCountsIt) {
  asio::io_context io;
  ProxyLink link(io.get_executor(), "down", loopback(0), loopback(test::free_loopback_port()));
  ASSERT_TRUE(link.start());
  auto ended = run_on_loop<boost::system::error_code>(
      io, [&]() -> asio::awaitable<boost::system::error_code> {
        tcp::socket client = co_await connect_to(link.listen_port());
        co_return co_await test::read_until_closed(client);
      });
  EXPECT_TRUE(ended == asio::error::eof || ended == asio::error::connection_reset) << ended;
  EXPECT_EQ(link.stats().upstream_connect_failures, 1u);
  EXPECT_EQ(link.stats().connections_active, 0u);
  EXPECT_TRUE(link.listening()) << "one failed upstream connect must not stop the link";
}

TEST(ProxyLink, ServerClosingMidStreamClosesTheClient) {
  asio::io_context io;
  EchoServer echo(io);
  echo.counters().close_after_first_chunk = true;
  ProxyLink link(io.get_executor(), "closing", loopback(0), loopback(echo.port()));
  ASSERT_TRUE(link.start());
  auto ended = run_on_loop<boost::system::error_code>(
      io, [&]() -> asio::awaitable<boost::system::error_code> {
        tcp::socket client = co_await connect_to(link.listen_port());
        const std::string hello = "hello";
        co_await test::write_all(client, hello);
        co_return co_await test::read_until_closed(client);
      });
  EXPECT_EQ(ended, asio::error::eof);
  EXPECT_EQ(link.stats().connections_active, 0u);
}

TEST(ProxyLink, ClientClosingClosesTheServerSide) {
  asio::io_context io;
  EchoServer echo(io);
  ProxyLink link(io.get_executor(), "client-closes", loopback(0), loopback(echo.port()));
  ASSERT_TRUE(link.start());
  auto closed = run_on_loop<size_t>(io, [&]() -> asio::awaitable<size_t> {
    {
      tcp::socket client = co_await connect_to(link.listen_port());
      const std::string message(1000, 'x');
      (void)co_await test::echo_round_trip(client, message);
    }  // closed here
    for (int i = 0; i < 200 && echo.counters().closed == 0; ++i) co_await test::sleep_for(10ms);
    co_return echo.counters().closed;
  });
  EXPECT_EQ(closed, 1u) << "the echo server never saw the proxy close its side";
  EXPECT_EQ(link.stats().connections_active, 0u);
}

TEST(ProxyLink, DisableRefusesAndClosesThenEnableListensAgain) {
  asio::io_context io;
  EchoServer echo(io);
  ProxyLink link(io.get_executor(), "toggle", loopback(0), loopback(echo.port()));
  ASSERT_TRUE(link.start());
  const uint16_t port = link.listen_port();
  auto log = run_on_loop<std::string>(io, [&]() -> asio::awaitable<std::string> {
    const std::string before = "before";
    const std::string after = "after";
    tcp::socket client = co_await connect_to(port);
    (void)co_await test::echo_round_trip(client, before);
    if (auto st = link.enabled(false); !st) co_return "disable failed";
    const auto ended = co_await test::read_until_closed(client);
    std::string out = "closed:" + ended.message();
    tcp::socket refused(io);
    boost::system::error_code ec;
    const tcp::endpoint endpoint = loopback(port);
    co_await refused.async_connect(endpoint, asio::redirect_error(asio::use_awaitable, ec));
    out += " refused:" + std::string(ec == asio::error::connection_refused ? "yes" : "no");
    if (auto st = link.enabled(true); !st) co_return out + " enable failed: " + st.error().message;
    tcp::socket again = co_await connect_to(port);
    (void)co_await test::echo_round_trip(again, after);
    co_return out + " again:ok";
  });
  EXPECT_EQ(log, "closed:End of file refused:yes again:ok");
  EXPECT_EQ(link.listen_port(), port);
}

TEST(ProxyLink, StopClosesConnectionsHoldingDelayedData) {
  asio::io_context io;
  EchoServer echo(io);
  auto link =
      std::make_unique<ProxyLink>(io.get_executor(), "stop", loopback(0), loopback(echo.port()));
  ASSERT_TRUE(link->start());
  ToxicSpec slow{.type = ToxicType::latency, .name = "slow"};
  slow.params.latency = 10s;
  ASSERT_TRUE(link->add_toxic(slow));
  auto ended = run_on_loop<boost::system::error_code>(
      io, [&]() -> asio::awaitable<boost::system::error_code> {
        tcp::socket client = co_await connect_to(link->listen_port());
        const std::string data(100'000, 'd');
        co_await test::write_all(client, data);
        co_await test::sleep_for(100ms);  // the echo answered; the proxy holds it for 10 s
        link->stop();
        co_return co_await test::read_until_closed(client);
      });
  EXPECT_EQ(ended, asio::error::eof);
  EXPECT_EQ(link->stats().connections_active, 0u);
  EXPECT_FALSE(link->listening());
  link.reset();  // destroyed with nothing pending of its own; ASan checks the rest
  io.run_for(50ms);
}

TEST(FaultProxy, RegistryOfNamedLinks) {
  asio::io_context io;
  EchoServer echo(io);
  FaultProxy proxy(io.get_executor());
  const std::string upstream = "127.0.0.1:" + std::to_string(echo.port());
  auto a = proxy.add_link("a", "127.0.0.1:0", upstream);
  ASSERT_TRUE(a) << a.error().message;
  ASSERT_TRUE(proxy.add_link("b", "localhost:0", upstream));
  auto dup = proxy.add_link("a", "127.0.0.1:0", upstream);
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.error().message.find("already exists"), std::string::npos);
  EXPECT_FALSE(proxy.add_link("bad name!", "127.0.0.1:0", upstream));
  ASSERT_EQ(proxy.list().size(), 2u);
  EXPECT_EQ(proxy.find("a"), a.value());
  EXPECT_EQ(proxy.find("nope"), nullptr);

  ToxicSpec lag{.type = ToxicType::latency, .name = "lag"};
  lag.params.latency = 5ms;
  EXPECT_TRUE(proxy.add_toxic("a", lag));
  EXPECT_FALSE(proxy.add_toxic("a", lag)) << "toxic names are unique per link";
  EXPECT_FALSE(proxy.add_toxic("nope", lag));
  EXPECT_TRUE(proxy.add_toxic("b", lag));
  auto status = proxy.to_json();
  ASSERT_EQ(status["links"].size(), 2u);
  EXPECT_EQ(status["links"][0]["name"], "a");
  EXPECT_EQ(status["links"][0]["toxics"][0]["latency_ms"], 5);
  EXPECT_EQ(status["links"][0]["listen"], "127.0.0.1:" + std::to_string(a.value()->listen_port()));

  EXPECT_TRUE(proxy.remove_toxic("a", "lag"));
  EXPECT_FALSE(proxy.remove_toxic("a", "lag"));
  proxy.clear_toxics();
  EXPECT_TRUE(proxy.find("b")->toxics().empty());
  EXPECT_TRUE(proxy.remove_link("a"));
  EXPECT_FALSE(proxy.remove_link("a"));
  EXPECT_EQ(proxy.list().size(), 1u);
}

TEST(FaultProxy, RedisAnswersThroughTheProxyAndLatencyShows) {
  test::RedisServer server;
  asio::io_context io;
  FaultProxy proxy(io.get_executor());
  auto link = proxy.add_link("redis", "127.0.0.1:0", server.address());
  ASSERT_TRUE(link) << link.error().message;
  ConnectionOptions options;
  options.port = link.value()->listen_port();
  options.command_timeout = 2s;
  RedisConnection redis(io.get_executor(), options);
  auto out = run_on_loop<std::string>(io, [&]() -> asio::awaitable<std::string> {
    auto plain = co_await redis.call("PING");
    if (!plain) co_return "PING failed: " + plain.error().describe();
    auto spec = parse_toxic_spec(nlohmann::json::parse(
        R"({"type":"latency","name":"lag","stream":"downstream","latency_ms":20})"));
    if (!spec) co_return spec.error().message;
    if (auto st = proxy.add_toxic("redis", spec.value()); !st) co_return st.error().message;
    const auto started = std::chrono::steady_clock::now();
    auto slow = co_await redis.call("PING");
    const auto took = std::chrono::steady_clock::now() - started;
    if (!slow) co_return "slow PING failed: " + slow.error().describe();
    if (took < 20ms) co_return "PING took less than the injected 20 ms";
    co_return plain.value().debug_string() + " " + slow.value().debug_string();
  });
  EXPECT_EQ(out, "PONG PONG");
}

}  // namespace
}  // namespace chaosd
