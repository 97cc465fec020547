// Every fault against real redis-server processes (and the fault proxy for network faults): the
// injected effect is visible on the server, and revert restores the exact prior state, also when
// it runs twice or on a fault rebuilt from its journal record alone.

#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include "chaos/faults/client_kill.h"
#include "chaos/proxy/fault_proxy.h"
#include "tests/integration/chaos_test_support.h"

namespace chaosd {
namespace {
using namespace std::chrono_literals;
using test::config_value;
using test::context_for;
using test::FaultStep;
using test::make_fault;
using test::prepare_and_inject;
using test::run_on_loop;
using test::run_step;
namespace asio = boost::asio;

/// Runs one command on a connection on the loop: the reply text, or "error: ..." (and the
/// elapsed time in `took` when asked).
std::string command(asio::io_context& io, RedisConnection& conn, const Command& args,
                    Duration timeout = 1s, Duration* took = nullptr) {
  return run_on_loop<std::string>(io, [&]() -> asio::awaitable<std::string> {
    Command copy = args;
    auto start = std::chrono::steady_clock::now();
    auto reply = co_await conn.command(std::move(copy), timeout);
    if (took != nullptr) *took = std::chrono::steady_clock::now() - start;
    if (!reply) co_return "error: " + reply.error().describe();
    co_return reply.value().is_integer() ? std::to_string(reply.value().integer())
                                         : reply.value().str();
  });
}

ConnectionOptions options_for(uint16_t port, const std::string& name = "") {
  ConnectionOptions o;
  o.host = "127.0.0.1";
  o.port = port;
  o.client_name = name;
  o.backoff_initial = 10ms;
  return o;
}

TEST(ChaosFaults, MemoryPressureLowersMaxmemoryFillsBallastAndRevertRestoresExactly) {
  test::RedisServer server({"--maxmemory", "100mb", "--maxmemory-policy", "volatile-lru"});
  asio::io_context io;
  auto ctx = context_for(io, server);
  ctx.fault_id = "f-mem-1";
  ctx.duration = 30s;
  auto fault = make_fault("memory_pressure",
                          {{"maxmemory", "8mb"}, {"policy", "noeviction"}, {"fill_ratio", 0.9}});
  ASSERT_EQ(prepare_and_inject(io, *fault, ctx), "");

  EXPECT_EQ(config_value(server, "maxmemory"), "8388608");
  EXPECT_EQ(config_value(server, "maxmemory-policy"), "noeviction");
  const std::string ballast = "chaosd-test:chaos:ballast:f-mem-1:*";
  long long keys = server.count_keys(ballast);
  EXPECT_GT(keys, 50);  // ~90% of 8 MiB in 64 KiB keys, minus what the server uses itself
  EXPECT_EQ(keys, fault->record()["state"]["ballast_written"].get<long long>());
  long long ttl = std::stoll(server.cli({"PTTL", "chaosd-test:chaos:ballast:f-mem-1:0"}));
  EXPECT_GT(ttl, 30'000);  // duration + a minute
  EXPECT_LE(ttl, 90'000);
  // The pressure is real: a 2 MiB write no longer fits.
  std::string big(2 << 20, 'x');
  EXPECT_EQ(server.cli({"SET", "user:big", big}).rfind("OOM", 0), 0u);

  ASSERT_EQ(run_step(io, *fault, ctx, FaultStep::revert), "");
  EXPECT_EQ(config_value(server, "maxmemory"), "104857600");
  EXPECT_EQ(config_value(server, "maxmemory-policy"), "volatile-lru");
  EXPECT_EQ(server.count_keys(ballast), 0);
  EXPECT_EQ(server.cli({"SET", "user:big", big}), "OK");

  // Idempotent, and the same from the record alone (as after a daemon restart).
  ASSERT_EQ(run_step(io, *fault, ctx, FaultStep::revert), "");
  auto rebuilt = restore_fault(fault->record());
  ASSERT_TRUE(rebuilt) << rebuilt.error().message;
  ASSERT_EQ(run_step(io, *rebuilt.value(), ctx, FaultStep::revert), "");
  EXPECT_EQ(config_value(server, "maxmemory"), "104857600");
  EXPECT_EQ(config_value(server, "maxmemory-policy"), "volatile-lru");
}

TEST(ChaosFaults, MemoryPressureRevertFromRecordAloneAfterInject) {
  test::RedisServer server;  // maxmemory 0 (unlimited), policy noeviction: the defaults
  asio::io_context io;
  auto ctx = context_for(io, server);
  ctx.fault_id = "f-mem-2";
  ctx.duration = 30s;
  auto fault = make_fault("memory_pressure", {{"maxmemory", "4mb"}, {"policy", "allkeys-lru"}});
  ASSERT_EQ(prepare_and_inject(io, *fault, ctx), "");
  EXPECT_EQ(config_value(server, "maxmemory"), "4194304");
  auto record = fault->record();
  fault.reset();  // the daemon died; only the journal record is left
  auto rebuilt = restore_fault(record);
  ASSERT_TRUE(rebuilt) << rebuilt.error().message;
  ASSERT_EQ(run_step(io, *rebuilt.value(), ctx, FaultStep::revert), "");
  EXPECT_EQ(config_value(server, "maxmemory"), "0");
  EXPECT_EQ(config_value(server, "maxmemory-policy"), "noeviction");
}

TEST(ChaosFaults, MemoryPressureOnAReplicaIsRevertedThoughItsBallastWasRefused) {
  test::RedisServer primary;
  test::RedisServer replica(
      {"--replicaof", "127.0.0.1", std::to_string(primary.port()), "--maxmemory", "100mb"});
  primary.wait_for_replica(replica);
  asio::io_context io;
  auto ctx = context_for(io, replica);
  ctx.fault_id = "f-mem-replica";
  ctx.duration = 30s;
  auto fault = make_fault("memory_pressure", {{"maxmemory", "8mb"}, {"fill_ratio", 0.5}});
  ASSERT_EQ(prepare_and_inject(io, *fault, ctx), "");  // the replica refuses the ballast writes
  EXPECT_EQ(config_value(replica, "maxmemory"), "8388608");
  // Revert meets READONLY for every ballast UNLINK, and must restore the limit all the same.
  ASSERT_EQ(run_step(io, *fault, ctx, FaultStep::revert), "");
  EXPECT_EQ(config_value(replica, "maxmemory"), "104857600");
}

TEST(ChaosFaults, MemoryPressureFillRatioNeedsALimit) {
  test::RedisServer server;  // maxmemory 0
  asio::io_context io;
  auto ctx = context_for(io, server);
  ctx.fault_id = "f-mem-3";
  ctx.duration = 5s;
  auto fault = make_fault("memory_pressure", {{"fill_ratio", 0.5}});
  auto error = run_step(io, *fault, ctx, FaultStep::prepare);
  EXPECT_NE(error.find("fill_ratio needs a maxmemory"), std::string::npos) << error;
  EXPECT_EQ(config_value(server, "maxmemory"), "0");
  EXPECT_EQ(server.count_keys("chaosd-test:*"), 0);
}

TEST(ChaosFaults, NodePauseAllHoldsCommandsUntilThePauseEnds) {
  test::RedisServer server;
  asio::io_context io;
  auto ctx = context_for(io, server);
  ctx.fault_id = "f-pause-1";
  ctx.duration = 800ms;
  auto fault = make_fault("node_pause", {{"mode", "all"}});
  RedisConnection client(io.get_executor(), options_for(server.port()));
  ASSERT_EQ(command(io, client, {"PING"}), "PONG");
  auto injected_at = std::chrono::steady_clock::now();
  ASSERT_EQ(prepare_and_inject(io, *fault, ctx), "");
  Duration took{};
  EXPECT_EQ(command(io, client, {"GET", "k"}, 5s, &took), "");  // nil, once the pause is over
  // Physics: the GET cannot be answered before the pause ends.
  EXPECT_GE(std::chrono::steady_clock::now() - injected_at, 700ms);
  EXPECT_GE(took, 400ms);
  ASSERT_EQ(run_step(io, *fault, ctx, FaultStep::revert), "");
  EXPECT_EQ(command(io, client, {"PING"}), "PONG");
}

// Redis 7.0 cannot end a PAUSE ALL early, so a long one would hold a halt that long: refused.
TEST(ChaosFaults, NodePauseAllIsLimitedToAMinuteWriteToTen) {
  test::RedisServer server;
  asio::io_context io;
  auto ctx = context_for(io, server);
  ctx.fault_id = "f-pause-long";
  ctx.duration = 2min;
  auto all = make_fault("node_pause", {{"mode", "all"}});
  auto refused = run_step(io, *all, ctx, FaultStep::prepare);
  EXPECT_NE(refused.find("between 1ms and 1m in mode all"), std::string::npos) << refused;
  auto write = make_fault("node_pause", {{"mode", "write"}});
  EXPECT_EQ(run_step(io, *write, ctx, FaultStep::prepare), "");
  ctx.duration = 11min;
  auto too_long = run_step(io, *write, ctx, FaultStep::prepare);
  EXPECT_NE(too_long.find("between 1ms and 10m in mode write"), std::string::npos) << too_long;
}

TEST(ChaosFaults, NodePauseWriteIsRevertedAtOnce) {
  test::RedisServer server;
  asio::io_context io;
  auto ctx = context_for(io, server);
  ctx.fault_id = "f-pause-2";
  ctx.duration = 20s;  // far longer than the test: only revert can end it in time
  auto fault = make_fault("node_pause", {{"mode", "write"}});
  RedisConnection reader(io.get_executor(), options_for(server.port()));
  RedisConnection writer(io.get_executor(), options_for(server.port()));
  ASSERT_EQ(prepare_and_inject(io, *fault, ctx), "");
  EXPECT_EQ(command(io, reader, {"GET", "k"}), "");  // reads still served
  auto blocked = command(io, writer, {"SET", "k", "v"}, 300ms);
  EXPECT_NE(blocked.find("timeout"), std::string::npos) << blocked;
  ASSERT_EQ(run_step(io, *fault, ctx, FaultStep::revert), "");
  RedisConnection writer2(io.get_executor(), options_for(server.port()));
  EXPECT_EQ(command(io, writer2, {"SET", "k2", "v"}, 2s), "OK");
  // The record alone reverts too (CLIENT UNPAUSE of an unpaused server is fine).
  auto rebuilt = restore_fault(fault->record());
  ASSERT_TRUE(rebuilt);
  ASSERT_EQ(run_step(io, *rebuilt.value(), ctx, FaultStep::revert), "");
}

struct ServerBehindProxy {
  test::RedisServer server;
  asio::io_context io;
  FaultProxy proxy{io.get_executor()};
  ProxyLink* link = nullptr;
  ServerBehindProxy() {
    auto added = proxy.add_link("redis", "127.0.0.1:0", server.address());
    if (!added) throw std::runtime_error(added.error().message);
    link = added.value();
  }
  FaultContext context(const std::string& id, Duration duration) {
    auto ctx = context_for(io, server);
    ctx.proxy = &proxy;
    ctx.fault_id = id;
    ctx.duration = duration;
    return ctx;
  }
};

TEST(ChaosFaults, NetworkLatencyDelaysRepliesAndRevertRemovesTheToxic) {
  ServerBehindProxy t;
  auto ctx = t.context("f-net-1", 20s);
  auto fault = make_fault("network_latency", {{"link", "redis"}, {"latency", "150ms"}});
  RedisConnection client(t.io.get_executor(), options_for(t.link->listen_port()));
  ASSERT_EQ(command(t.io, client, {"PING"}), "PONG");
  ASSERT_EQ(prepare_and_inject(t.io, *fault, ctx), "");
  ASSERT_EQ(t.link->toxics().size(), 1u);
  EXPECT_EQ(t.link->toxics()[0].spec.name, "chaos-f-net-1-down");
  EXPECT_TRUE(t.link->toxics()[0].expires_at.has_value());  // the proxy's own backstop
  Duration took{};
  EXPECT_EQ(command(t.io, client, {"PING"}, 5s, &took), "PONG");
  EXPECT_GE(took, 150ms);
  ASSERT_EQ(run_step(t.io, *fault, ctx, FaultStep::revert), "");
  EXPECT_TRUE(t.link->toxics().empty());
  EXPECT_EQ(command(t.io, client, {"PING"}), "PONG");
  ASSERT_EQ(run_step(t.io, *fault, ctx, FaultStep::revert), "");  // idempotent
}

TEST(ChaosFaults, NetworkPartitionDropsTrafficUntilReverted) {
  ServerBehindProxy t;
  auto ctx = t.context("f-net-2", 20s);
  auto fault = make_fault("network_partition", {{"link", "redis"}});
  RedisConnection client(t.io.get_executor(), options_for(t.link->listen_port()));
  ASSERT_EQ(command(t.io, client, {"PING"}), "PONG");
  ASSERT_EQ(prepare_and_inject(t.io, *fault, ctx), "");
  EXPECT_EQ(t.link->toxics().size(), 2u);  // both directions by default
  auto lost = command(t.io, client, {"PING"}, 300ms);
  EXPECT_NE(lost.find("timeout"), std::string::npos) << lost;
  // Rebuilt from the record, as after a restart of the daemon with the proxy still up.
  auto rebuilt = restore_fault(fault->record());
  ASSERT_TRUE(rebuilt);
  ASSERT_EQ(run_step(t.io, *rebuilt.value(), ctx, FaultStep::revert), "");
  EXPECT_TRUE(t.link->toxics().empty());
  RedisConnection fresh(t.io.get_executor(), options_for(t.link->listen_port()));
  EXPECT_EQ(command(t.io, fresh, {"PING"}), "PONG");
}

TEST(ChaosFaults, NetworkResetResetsNewConnections) {
  ServerBehindProxy t;
  auto ctx = t.context("f-net-3", 20s);
  auto fault = make_fault("network_reset", {{"link", "redis"}});
  ASSERT_EQ(prepare_and_inject(t.io, *fault, ctx), "");
  RedisConnection client(t.io.get_executor(), options_for(t.link->listen_port()));
  auto refused = command(t.io, client, {"PING"});
  EXPECT_NE(refused.rfind("error:", 0), std::string::npos) << refused;
  ASSERT_EQ(run_step(t.io, *fault, ctx, FaultStep::revert), "");
  RedisConnection fresh(t.io.get_executor(), options_for(t.link->listen_port()));
  EXPECT_EQ(command(t.io, fresh, {"PING"}), "PONG");
}

TEST(ChaosFaults, NetworkFaultsNeedAProxyAndALink) {
  ServerBehindProxy t;
  auto ctx = t.context("f-net-4", 5s);
  auto no_link = make_fault("network_latency", {{"link", "nope"}, {"latency", "5ms"}});
  auto error = prepare_and_inject(t.io, *no_link, ctx);
  EXPECT_NE(error.find("no fault proxy link named \"nope\""), std::string::npos) << error;
  ctx.proxy = nullptr;
  auto fault = make_fault("network_latency", {{"link", "redis"}, {"latency", "5ms"}});
  error = prepare_and_inject(t.io, *fault, ctx);
  EXPECT_NE(error.find("no fault proxy"), std::string::npos) << error;
  // Without a proxy there is nothing to revert (the proxy lives in the daemon's process).
  EXPECT_EQ(run_step(t.io, *fault, ctx, FaultStep::revert), "");
  EXPECT_TRUE(t.link->toxics().empty());
}

TEST(ChaosFaults, NodeKillKillsAndRevertRestarts) {
  test::RedisServer server;
  server.cli({"SET", "before", "1"});
  test::ServerNodes nodes;
  nodes.add(server);
  asio::io_context io;
  auto ctx = context_for(io, server, &nodes);
  ctx.fault_id = "f-kill-1";
  ctx.duration = 10s;
  auto fault = make_fault("node_kill", nlohmann::json::object());
  ASSERT_EQ(prepare_and_inject(io, *fault, ctx), "");
  EXPECT_FALSE(server.running());
  RedisConnection client(io.get_executor(), options_for(server.port()));
  EXPECT_EQ(command(io, client, {"PING"}).rfind("error:", 0), 0u);
  auto rebuilt = restore_fault(fault->record());
  ASSERT_TRUE(rebuilt);
  ASSERT_EQ(run_step(io, *rebuilt.value(), ctx, FaultStep::revert), "");
  EXPECT_TRUE(server.running());
  EXPECT_EQ(server.cli({"PING"}), "PONG");
  ASSERT_EQ(run_step(io, *fault, ctx, FaultStep::revert), "");  // restart of a running node: ok
  EXPECT_EQ(nodes.restarts, 2);
  ctx.nodes = nullptr;
  auto unsupervised = make_fault("node_kill", nlohmann::json::object());
  auto error = run_step(io, *unsupervised, ctx, FaultStep::prepare);
  EXPECT_NE(error.find("no node supervisor"), std::string::npos) << error;
}

std::string client_names(const test::RedisServer& server) {
  std::string names;
  std::string list = server.cli({"CLIENT", "LIST"});
  for (size_t at = list.find(" name="); at != std::string::npos; at = list.find(" name=", at + 1)) {
    names += list.substr(at + 6, list.find(' ', at + 6) - at - 6) + ",";
  }
  return names;
}

TEST(ChaosFaults, ClientKillByNamePatternSparesOthersAndChaosdItself) {
  test::RedisServer server;
  asio::io_context io;
  RedisConnection victim(io.get_executor(), options_for(server.port(), "app-victim"));
  RedisConnection bystander(io.get_executor(), options_for(server.port(), "other-service"));
  RedisConnection own(io.get_executor(), options_for(server.port(), "redis-chaosd:ttl"));
  for (auto* c : {&victim, &bystander, &own}) ASSERT_EQ(command(io, *c, {"PING"}), "PONG");
  auto before = client_names(server);
  ASSERT_NE(before.find("app-victim,"), std::string::npos) << before;

  auto ctx = context_for(io, server);
  ctx.fault_id = "f-ck-1";
  ctx.duration = 5s;
  auto fault = make_fault("client_kill", {{"name_pattern", "app-*"}});
  ASSERT_EQ(prepare_and_inject(io, *fault, ctx), "");
  auto after = client_names(server);
  EXPECT_EQ(after.find("app-victim,"), std::string::npos) << after;
  EXPECT_NE(after.find("other-service,"), std::string::npos) << after;
  EXPECT_NE(after.find("redis-chaosd:ttl,"), std::string::npos) << after;
  EXPECT_EQ(fault->record()["state"]["killed"], 1);

  // By type: every normal client except redis-chaosd's own.
  auto by_type = make_fault("client_kill", {{"type", "normal"}});
  ASSERT_EQ(prepare_and_inject(io, *by_type, ctx), "");
  after = client_names(server);
  EXPECT_EQ(after.find("other-service,"), std::string::npos) << after;
  EXPECT_NE(after.find("redis-chaosd:ttl,"), std::string::npos) << after;
  EXPECT_EQ(run_step(io, *by_type, ctx, FaultStep::revert), "");  // a no-op
  // The victims reconnect by themselves.
  std::string reply;
  for (int i = 0; i < 20 && reply != "PONG"; ++i) reply = command(io, victim, {"PING"});
  EXPECT_EQ(reply, "PONG");
}

}  // namespace
}  // namespace chaosd
