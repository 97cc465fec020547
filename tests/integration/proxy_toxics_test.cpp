// Every toxic of the fault proxy against an echo server over real loopback sockets. Timing checks
// are lower bounds ("at least the injected delay"); upper bounds only guard against hangs.

#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include "chaos/proxy/proxy_link.h"
#include "tests/integration/proxy_test_support.h"
#include "tests/support/loop.h"

namespace chaosd {
namespace {
using namespace std::chrono_literals;
using test::connect_to;
using test::EchoServer;
using test::run_on_loop;
namespace asio = boost::asio;
using asio::ip::tcp;

// An echo server behind a started link, on one io_context.
struct EchoThroughProxy {
  asio::io_context io;
  EchoServer echo{io};
  ProxyLink link{io.get_executor(), "echo", tcp::endpoint(asio::ip::address_v4::loopback(), 0),
                 tcp::endpoint(asio::ip::address_v4::loopback(), echo.port())};
  EchoThroughProxy() {
    if (!link.start()) throw std::runtime_error("link did not start");
  }
};

ToxicSpec toxic(ToxicType type, std::string name, ToxicDirection direction) {
  ToxicSpec spec;
  spec.type = type;
  spec.name = std::move(name);
  spec.direction = direction;
  return spec;
}

TEST(ProxyToxics, LatencyAddedToALiveConnectionDelaysEachRoundTrip) {
  EchoThroughProxy t;
  auto took = run_on_loop<std::vector<double>>(t.io, [&]() -> asio::awaitable<std::vector<double>> {
    tcp::socket client = co_await connect_to(t.link.listen_port());
    const std::string ping = "ping";
    std::vector<double> ms;
    ms.push_back(test::milliseconds(co_await test::echo_round_trip(client, ping)));
    auto lag = toxic(ToxicType::latency, "lag", ToxicDirection::downstream);
    lag.params.latency = 50ms;
    if (!t.link.add_toxic(lag)) throw std::runtime_error("add_toxic failed");
    for (int i = 0; i < 3; ++i) {
      ms.push_back(test::milliseconds(co_await test::echo_round_trip(client, ping)));
    }
    if (!t.link.remove_toxic("lag")) throw std::runtime_error("remove_toxic failed");
    ms.push_back(test::milliseconds(co_await test::echo_round_trip(client, ping)));
    co_return ms;
  });
  ASSERT_EQ(took.size(), 5u);
  for (int i = 1; i <= 3; ++i) EXPECT_GE(took[i], 50.0) << "round trip " << i;
  EXPECT_LT(took[4], 1000.0) << "the latency stayed after the toxic was removed";
}

TEST(ProxyToxics, JitterKeepsOrder) {
  EchoThroughProxy t;
  auto lag = toxic(ToxicType::latency, "jitter", ToxicDirection::upstream);
  lag.params.latency = 10ms;
  lag.params.jitter = 10ms;
  ASSERT_TRUE(t.link.add_toxic(lag));
  std::string sent;
  for (int i = 0; i < 100; ++i) sent += "<" + std::to_string(i) + ">";
  auto got = run_on_loop<std::string>(t.io, [&]() -> asio::awaitable<std::string> {
    tcp::socket client = co_await connect_to(t.link.listen_port());
    for (int i = 0; i < 100; ++i) {  // separate writes a little apart: separate chunks
      const std::string message = "<" + std::to_string(i) + ">";
      co_await test::write_all(client, message);
      if (i % 10 == 0) co_await test::sleep_for(1ms);
    }
    co_return co_await test::read_exact(client, sent.size());
  });
  EXPECT_EQ(got, sent);
}

TEST(ProxyToxics, BandwidthLimitsTheRate) {
  EchoThroughProxy t;
  auto limit = toxic(ToxicType::bandwidth, "thin", ToxicDirection::downstream);
  limit.params.rate_bytes_per_second = 100'000;
  ASSERT_TRUE(t.link.add_toxic(limit));
  const std::string payload = test::random_bytes(200'000, 7);
  const auto started = std::chrono::steady_clock::now();
  auto echoed = run_on_loop<std::string>(t.io, [&]() -> asio::awaitable<std::string> {
    tcp::socket client = co_await connect_to(t.link.listen_port());
    asio::co_spawn(t.io, test::write_all(client, payload), asio::detached);
    co_return co_await test::read_exact(client, payload.size());
  });
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_TRUE(echoed == payload);
  EXPECT_GE(took, 1800ms) << "200 KB at 100 KB/s must take about 2 s";
}

TEST(ProxyToxics, TimeoutWithoutDeadlineHoldsDataUntilRemoved) {
  EchoThroughProxy t;
  auto log = run_on_loop<std::string>(t.io, [&]() -> asio::awaitable<std::string> {
    tcp::socket client = co_await connect_to(t.link.listen_port());
    const std::string hello = "hello";
    (void)co_await test::echo_round_trip(client, hello);
    if (!t.link.add_toxic(toxic(ToxicType::timeout, "hole", ToxicDirection::upstream))) {
      co_return "add failed";
    }
    const std::string held = "held data";
    co_await test::write_all(client, held);
    co_await test::sleep_for(300ms);
    std::string out = "after 300ms: " + std::to_string(client.available()) + " bytes, echo saw " +
                      std::to_string(t.echo.counters().bytes_received);
    if (!t.link.remove_toxic("hole")) co_return "remove failed";
    auto released = co_await test::read_exact(client, held.size());
    co_return out + "; then: " + released;
  });
  EXPECT_EQ(log, "after 300ms: 0 bytes, echo saw 5; then: held data");
}

TEST(ProxyToxics, TimeoutClosesTheConnectionAfterItsDeadline) {
  EchoThroughProxy t;
  auto hole = toxic(ToxicType::timeout, "hole", ToxicDirection::downstream);
  hole.params.timeout = 100ms;
  ASSERT_TRUE(t.link.add_toxic(hole));
  const auto started = std::chrono::steady_clock::now();
  auto ended = run_on_loop<boost::system::error_code>(
      t.io, [&]() -> asio::awaitable<boost::system::error_code> {
        tcp::socket client = co_await connect_to(t.link.listen_port());
        const std::string hello = "hello";
        co_await test::write_all(client, hello);
        co_return co_await test::read_until_closed(client);
      });
  EXPECT_EQ(ended, asio::error::eof);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 100ms);
  EXPECT_EQ(t.link.stats().connections_timed_out, 1u);
  EXPECT_EQ(t.link.stats().bytes_downstream, 0u) << "a timeout toxic forwards nothing";
}

TEST(ProxyToxics, ResetPeerResetsLiveConnections) {
  EchoThroughProxy t;
  auto ended = run_on_loop<boost::system::error_code>(
      t.io, [&]() -> asio::awaitable<boost::system::error_code> {
        tcp::socket client = co_await connect_to(t.link.listen_port());
        const std::string hello = "hello";
        (void)co_await test::echo_round_trip(client, hello);
        auto reset = toxic(ToxicType::reset_peer, "rst", ToxicDirection::downstream);
        reset.params.timeout = 50ms;
        if (!t.link.add_toxic(reset)) throw std::runtime_error("add failed");
        co_return co_await test::read_until_closed(client);
      });
  EXPECT_EQ(ended, asio::error::connection_reset) << "SO_LINGER 0 should make it a reset";
  EXPECT_EQ(t.link.stats().connections_reset, 1u);
  EXPECT_EQ(t.link.stats().connections_active, 0u);
}

TEST(ProxyToxics, PartitionDropsDataButKeepsTheConnection) {
  EchoThroughProxy t;
  auto log = run_on_loop<std::string>(t.io, [&]() -> asio::awaitable<std::string> {
    tcp::socket client = co_await connect_to(t.link.listen_port());
    if (!t.link.add_toxic(toxic(ToxicType::partition, "cut", ToxicDirection::upstream))) {
      co_return "add failed";
    }
    const std::string lost = "lost";
    co_await test::write_all(client, lost);
    co_await test::sleep_for(200ms);
    std::string out = "during: " + std::to_string(client.available()) + "/" +
                      std::to_string(t.echo.counters().bytes_received);
    if (!t.link.remove_toxic("cut")) co_return "remove failed";
    const std::string found = "found";
    co_await test::write_all(client, found);
    auto echoed = co_await test::read_exact(client, found.size());
    co_return out + " after: " + echoed;
  });
  EXPECT_EQ(log, "during: 0/0 after: found");
  EXPECT_EQ(t.link.stats().bytes_dropped, 4u);
}

TEST(ProxyToxics, SlicerDeliversEveryByteInOrder) {
  EchoThroughProxy t;
  auto slicer = toxic(ToxicType::slicer, "slices", ToxicDirection::downstream);
  slicer.params.average_size_bytes = 100;
  slicer.params.size_variation_bytes = 50;
  slicer.params.slice_delay = 20us;
  ASSERT_TRUE(t.link.add_toxic(slicer));
  const std::string payload = test::random_bytes(64 * 1024, 3);
  auto echoed = run_on_loop<std::string>(t.io, [&]() -> asio::awaitable<std::string> {
    tcp::socket client = co_await connect_to(t.link.listen_port());
    asio::co_spawn(t.io, test::write_all(client, payload), asio::detached);
    co_return co_await test::read_exact(client, payload.size());
  });
  EXPECT_TRUE(echoed == payload);
  EXPECT_EQ(t.link.stats().bytes_downstream, payload.size());
}

TEST(ProxyToxics, ExpiredToxicRemovesItself) {
  EchoThroughProxy t;
  auto lag = toxic(ToxicType::latency, "brief", ToxicDirection::downstream);
  lag.params.latency = 2s;
  lag.expires_in = 100ms;
  ASSERT_TRUE(t.link.add_toxic(lag));
  auto took = run_on_loop<double>(t.io, [&]() -> asio::awaitable<double> {
    co_await test::sleep_for(300ms);
    tcp::socket client = co_await connect_to(t.link.listen_port());
    const std::string ping = "ping";
    co_return test::milliseconds(co_await test::echo_round_trip(client, ping));
  });
  EXPECT_TRUE(t.link.toxics().empty());
  EXPECT_LT(took, 1000.0) << "the expired 2 s latency still applied";
}

TEST(ProxyToxics, RemovingLatencyReleasesHeldData) {
  EchoThroughProxy t;
  auto lag = toxic(ToxicType::latency, "long", ToxicDirection::downstream);
  lag.params.latency = 10s;
  ASSERT_TRUE(t.link.add_toxic(lag));
  const auto started = std::chrono::steady_clock::now();
  auto got = run_on_loop<std::string>(t.io, [&]() -> asio::awaitable<std::string> {
    tcp::socket client = co_await connect_to(t.link.listen_port());
    const std::string ping = "ping";
    co_await test::write_all(client, ping);
    co_await test::sleep_for(100ms);
    if (!t.link.remove_toxic("long")) co_return "remove failed";
    co_return co_await test::read_exact(client, ping.size());
  });
  EXPECT_EQ(got, "ping");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
}

TEST(ProxyToxics, UpdatingAToxicAppliesToLiveConnections) {
  EchoThroughProxy t;
  auto lag = toxic(ToxicType::latency, "lag", ToxicDirection::downstream);
  lag.params.latency = 10s;
  ASSERT_TRUE(t.link.add_toxic(lag));
  const auto started = std::chrono::steady_clock::now();
  auto took = run_on_loop<double>(t.io, [&]() -> asio::awaitable<double> {
    tcp::socket client = co_await connect_to(t.link.listen_port());
    const std::string ping = "ping";
    co_await test::write_all(client, ping);
    co_await test::sleep_for(100ms);
    auto shorter = lag;
    shorter.params.latency = 60ms;
    if (!t.link.update_toxic(shorter)) throw std::runtime_error("update failed");
    (void)co_await test::read_exact(client, ping.size());  // held by the old toxic: out now
    co_return test::milliseconds(co_await test::echo_round_trip(client, ping));
  });
  EXPECT_GE(took, 60.0) << "the updated latency did not apply";
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s) << "the old 10 s latency still held";
  ASSERT_EQ(t.link.toxics().size(), 1u);
  EXPECT_EQ(t.link.toxics()[0].spec.params.latency, 60ms);
}

}  // namespace
}  // namespace chaosd
