#include "tests/support/probe_harness.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include "probes/registry.h"
#include "tests/support/loop.h"

namespace chaosd::test {
namespace asio = boost::asio;
using namespace std::chrono_literals;

ProbeConfig probe_config(const std::string& type, const std::string& params_toml) {
  ProbeConfig config;
  config.name = type;
  config.type = type;
  config.target = "main";
  config.timeout = 10s;
  config.params = std::move(*toml::parse("params = {" + params_toml + "}")["params"].as_table());
  config.where.file = "test.toml";
  return config;
}

ConnectionOptions options_for(const RedisServer& server) {
  ConnectionOptions o;
  o.port = server.port();
  o.command_timeout = 1s;
  o.connect_timeout = 500ms;
  o.client_name = "redis-chaosd:test";
  return o;
}

TargetConfig topology_for(const RedisServer& server) {
  TargetConfig t;
  t.name = "main";
  t.host = "127.0.0.1";
  t.port = server.port();
  return t;
}

TargetConfig cluster_topology_for(const RedisServer& seed) {
  TargetConfig t = topology_for(seed);
  t.kind = TargetKind::cluster;
  t.seeds = {{"127.0.0.1", seed.port()}};
  return t;
}

std::optional<double> measured(const ProbeResult& result, const std::string& name) {
  for (const auto& m : result.measurements) {
    if (m.name == name && m.applicable()) return m.value;
  }
  return std::nullopt;
}

std::optional<double> measured(const ProbeResult& result, const std::string& name,
                               const std::string& subject) {
  for (const auto& m : result.measurements) {
    if (m.name == name && m.subject == subject && m.applicable()) return m.value;
  }
  return std::nullopt;
}

void expect_params_rejected(const ProbeConfig& config, const std::string& key_path) {
  const ProbeType* type = find_probe_type(config.type);
  ASSERT_NE(type, nullptr) << config.type;
  try {
    type->create(config, "probes[0].params");
    ADD_FAILURE() << config.type << " params " << config.params << " were accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key_path(), key_path) << e.what();
  }
}

bool not_applicable(const ProbeResult& result, const std::string& name) {
  for (const auto& m : result.measurements) {
    if (m.name == name && !m.applicable()) return true;
  }
  return false;
}

std::string first_error(const ProbeRun& run) {
  return run.result.errors.empty() ? "" : run.result.errors.front();
}

ProbeOutcome run_probe_once(const ProbeConfig& config, const TargetConfig& topology,
                            const ConnectionOptions& options, bool stop_after,
                            std::optional<Duration> runner_timeout) {
  asio::io_context io;
  SystemClock clock;
  auto probe = find_probe_type(config.type)->create(config, "probes[0].params");
  ProbeConfig runner_config = config;
  if (runner_timeout) runner_config.timeout = *runner_timeout;
  ProbeRunner runner(io.get_executor(), runner_config, std::move(probe), topology, options,
                     "chaosd", clock, [](const ProbeRun&) {});
  return run_on_loop<ProbeOutcome>(io, [&]() -> asio::awaitable<ProbeOutcome> {
    ProbeOutcome o;
    o.run = co_await runner.run_once();
    if (stop_after) {
      Status cleaned = co_await runner.stop(5s);
      o.cleaned = cleaned.ok();
    }
    co_return o;
  });
}

}  // namespace chaosd::test
