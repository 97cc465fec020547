// A target fronted by the fault proxy (proxy_listen): the probes go through the link named after
// the target, so a network_latency fault on that link shows in what the latency probe measures,
// and an app pointed at proxy_listen sees the same fault.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "daemon/lab/subprocess.h"
#include "tests/support/daemon_process.h"
#include "tests/support/redis_server.h"

namespace chaosd::test {
namespace {
using namespace std::chrono_literals;
using nlohmann::json;

const std::string kToken = "e2e-fronted-token-0123456789abcd";

std::optional<double> ping_latency(const DaemonProcess& daemon) {
  return metric_value(http_get(daemon.port(), "/metrics").body, "redis_chaosd_measurement",
                      {"measurement=\"ping_latency_seconds\""});
}

TEST(FrontedTarget, NetworkFaultsOnTheTargetsLinkReachTheProbes) {
  RedisServer redis;
  TempDir dir;
  const uint16_t listen = free_loopback_port();
  auto token_file = dir.write("token", kToken + "\n");
  DaemonProcess daemon(
      "[daemon]\nstate_dir = \"" + (dir.path() / "state").string() +
      "\"\n[chaos]\nenabled = true\n" + "token_file = \"" + token_file.string() +
      "\"\n[[targets]]\nname = \"main\"\naddress = \"" + redis.address() +
      "\"\nchaos_allowed = true\nproxy_listen = \"127.0.0.1:" + std::to_string(listen) +
      "\"\n[[probes]]\ntype = \"latency\"\ntarget = \"main\"\n" +
      "interval = \"300ms\"\nparams = { samples = 3 }\n");

  // The status shows the link as the address and the real server as upstream.
  auto status = json::parse(http_get(daemon.port(), "/status").body);
  ASSERT_EQ(status["targets"].size(), 1u);
  EXPECT_EQ(status["targets"][0]["address"], "127.0.0.1:" + std::to_string(listen));
  EXPECT_EQ(status["targets"][0]["upstream"], redis.address());
  // An app can use the link too.
  std::string error;
  auto pong = blocking_command({"127.0.0.1", listen}, {"PING"}, 2s, &error);
  ASSERT_TRUE(pong.has_value()) << error;
  EXPECT_EQ(*pong, "PONG");

  ASSERT_TRUE(daemon.wait_for(
      "/metrics", [&](const HttpReply&) { return ping_latency(daemon).has_value(); }, 20s));
  EXPECT_LT(*ping_latency(daemon), 0.05);  // loopback, no fault: far below the injected 80 ms

  auto injected = http_call(
      daemon.port(), "POST", "/api/v1/faults",
      R"({"fault":"network_latency","target":"main","duration":"30s","params":{"link":"main","latency":"80ms"}})",
      kToken);
  ASSERT_EQ(injected.status, 201) << injected.body;
  const std::string id = json::parse(injected.body).at("id");
  // Physics: a reply through an 80 ms downstream delay cannot take less than 80 ms.
  EXPECT_TRUE(daemon.wait_for(
      "/metrics",
      [&](const HttpReply&) {
        auto latency = ping_latency(daemon);
        return latency && *latency >= 0.08;
      },
      20s))
      << ping_latency(daemon).value_or(-1);
  ASSERT_EQ(http_call(daemon.port(), "DELETE", "/api/v1/faults/" + id, "", kToken).status, 200);
  EXPECT_TRUE(daemon.wait_for(
      "/metrics",
      [&](const HttpReply&) {
        auto latency = ping_latency(daemon);
        return latency && *latency < 0.05;
      },
      20s));
}

}  // namespace
}  // namespace chaosd::test
