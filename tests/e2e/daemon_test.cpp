// The redis-chaosd binary against a real redis-server, checked the way an operator would: scrape
// /metrics (validated by promtool), read /status, kill Redis under it, reload, stop it.

#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/support/daemon_process.h"
#include "tests/support/redis_server.h"

namespace chaosd::test {
namespace {
using namespace std::chrono_literals;

std::string config_for(const RedisServer& redis, const std::string& extra = "") {
  return "[daemon]\nkey_prefix = \"chaosd\"\nshutdown_timeout = \"5s\"\n"
         "[[targets]]\nname = \"main\"\naddress = \"" +
         redis.address() +
         "\"\n"
         "connect_timeout = \"300ms\"\ncommand_timeout = \"300ms\"\n"
         "[[probes]]\ntype = \"latency\"\ninterval = \"200ms\"\ntimeout = \"2s\"\n"
         "[[probes]]\ntype = \"ttl\"\ninterval = \"1s\"\ntimeout = \"4s\"\n"
         "params = { keys = 5, ttl = \"200ms\", reclaim_window = \"1s\" }\n" +
         extra;
}

bool has_runs(const HttpReply& r, const std::string& probe, double at_least) {
  auto v = metric_value(r.body, "redis_chaosd_probe_runs_total", {"probe=\"" + probe + "\""});
  return r.status == 200 && v && *v >= at_least;
}

TEST(Daemon, MetricsPassPromtoolAndCarryEveryRequiredFamily) {
  RedisServer redis;
  DaemonProcess daemon(config_for(redis));
  ASSERT_TRUE(daemon.wait_for(
      "/metrics", [](const HttpReply& r) { return has_runs(r, "ttl", 1); }, 20s))
      << daemon.log();
  auto metrics = http_get(daemon.port(), "/metrics");
  TempDir dir;
  auto file = dir.write("metrics.txt", metrics.body);
  auto check = run_program({"promtool", "check", "metrics"}, file.string());
  EXPECT_EQ(check.exit_code, 0) << check.output;
  for (const char* family :
       {"redis_chaosd_build_info", "redis_chaosd_probe_runs_total",
        "redis_chaosd_probe_failures_total", "redis_chaosd_probe_duration_seconds_bucket",
        "redis_chaosd_probe_up", "redis_chaosd_measurement",
        "redis_chaosd_measurement_seconds_bucket", "redis_chaosd_sla_met",
        "redis_chaosd_sla_compliance_ratio", "redis_chaosd_sla_error_budget_remaining_ratio",
        "redis_chaosd_sla_burn_rate", "redis_chaosd_sla_events_total", "redis_chaosd_target_up",
        "process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds",
        "process_start_time_seconds"}) {
    EXPECT_TRUE(metric_value(metrics.body, family).has_value()) << family;
  }
  EXPECT_EQ(metric_value(metrics.body, "redis_chaosd_target_up", {"target=\"main\""}), 1.0);
  EXPECT_EQ(metric_value(metrics.body, "redis_chaosd_measurement",
                         {"measurement=\"expiry_accuracy_ratio\""}),
            1.0);
  // The ttl probe's default SLAs are judged and exported.
  EXPECT_TRUE(metric_value(metrics.body, "redis_chaosd_sla_events_total",
                           {"sla=\"ttl_expiry_timing_error_seconds\"", "result=\"good\""})
                  .has_value());
}

TEST(Daemon, StatusAndApiDescribeTargetsProbesAndSlas) {
  RedisServer redis;
  DaemonProcess daemon(config_for(redis));
  ASSERT_TRUE(daemon.wait_for(
      "/metrics", [](const HttpReply& r) { return has_runs(r, "ttl", 1); }, 20s));
  auto status = nlohmann::json::parse(http_get(daemon.port(), "/status").body);
  EXPECT_EQ(status["targets"][0]["name"], "main");
  EXPECT_EQ(status["targets"][0]["up"], true);
  EXPECT_EQ(status["targets"][0]["role"], "master");
  EXPECT_EQ(status["probes"].size(), 2u);
  auto ttl = nlohmann::json::parse(http_get(daemon.port(), "/api/v1/probes/ttl").body);
  EXPECT_EQ(ttl["type"], "ttl");
  EXPECT_TRUE(ttl["last_run"]["measurements"].contains("expiry_timing_error_seconds"));
  auto sla = nlohmann::json::parse(http_get(daemon.port(), "/api/v1/sla").body);
  EXPECT_GE(sla["slas"].size(), 5u);
  EXPECT_EQ(http_get(daemon.port(), "/readyz").status, 200);

  auto missing = http_get(daemon.port(), "/api/v1/probes/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(nlohmann::json::parse(missing.body)["error"].get<std::string>().find("nope"),
            std::string::npos);
  EXPECT_EQ(http_post(daemon.port(), "/api/v1/probes/nope/run").status, 404);
  EXPECT_EQ(http_post(daemon.port(), "/api/v1/probes/ttl/run").status, 202);
  EXPECT_EQ(http_post(daemon.port(), "/api/v1/sla", std::string(100 * 1024, 'x')).status, 413);
  auto page = http_get(daemon.port(), "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("ttl_expiry_accuracy_ratio"), std::string::npos);
}

TEST(Daemon, SigtermDeletesEveryProbeKeyAndExitsZero) {
  RedisServer redis;
  DaemonProcess daemon(config_for(redis));
  ASSERT_TRUE(daemon.wait_for(
      "/metrics", [](const HttpReply& r) { return has_runs(r, "ttl", 1); }, 20s));
  // The latency probe keeps a key with a 60 s TTL: there is something to clean up.
  ASSERT_GT(redis.count_keys("chaosd:*"), 0);
  daemon.signal(SIGTERM);
  auto code = daemon.wait_exit(10s);
  ASSERT_TRUE(code.has_value()) << "did not exit; log:\n" << daemon.log();
  EXPECT_EQ(*code, 0) << daemon.log();
  EXPECT_EQ(redis.count_keys("chaosd:*"), 0);
}

TEST(Daemon, ReportsRedisDownAndRecoversWhenItComesBack) {
  RedisServer redis;
  DaemonProcess daemon(config_for(redis));
  auto up = [](const HttpReply& r) {
    return metric_value(r.body, "redis_chaosd_target_up", {"target=\"main\""}) == 1.0;
  };
  auto down = [](const HttpReply& r) {
    return metric_value(r.body, "redis_chaosd_target_up", {"target=\"main\""}) == 0.0;
  };
  ASSERT_TRUE(daemon.wait_for("/metrics", up, 10s));
  for (int cycle = 0; cycle < 3; ++cycle) {
    redis.kill_hard();
    ASSERT_TRUE(daemon.wait_for("/metrics", down, 10s)) << "cycle " << cycle;
    auto failing = [](const HttpReply& r) {
      return metric_value(r.body, "redis_chaosd_probe_up", {"probe=\"latency\""}) == 0.0;
    };
    EXPECT_TRUE(daemon.wait_for("/metrics", failing, 10s));
    redis.start();
    ASSERT_TRUE(daemon.wait_for("/metrics", up, 15s)) << "cycle " << cycle << "\n" << daemon.log();
    auto probing = [](const HttpReply& r) {
      return metric_value(r.body, "redis_chaosd_probe_up", {"probe=\"latency\""}) == 1.0;
    };
    EXPECT_TRUE(daemon.wait_for("/metrics", probing, 15s));
  }
  auto metrics = http_get(daemon.port(), "/metrics").body;
  EXPECT_GT(
      metric_value(metrics, "redis_chaosd_probe_failures_total", {"probe=\"latency\""}).value_or(0),
      0);
  EXPECT_NE(daemon.log().find("target main is down"), std::string::npos);
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait_exit(10s), 0);
}

TEST(Daemon, ReportsAHungRedisAndRecoversWhenItAnswersAgain) {
  RedisServer redis;
  DaemonProcess daemon(config_for(redis));
  auto target_up = [](double want) {
    return [want](const HttpReply& r) {
      return metric_value(r.body, "redis_chaosd_target_up", {"target=\"main\""}) == want;
    };
  };
  ASSERT_TRUE(daemon.wait_for("/metrics", target_up(1), 10s));
  redis.pause();  // the socket stays open, nothing answers: only deadlines can tell
  ASSERT_TRUE(daemon.wait_for("/metrics", target_up(0), 10s)) << daemon.log();
  // The daemon itself stays responsive while Redis hangs.
  EXPECT_EQ(http_get(daemon.port(), "/healthz").status, 200);
  redis.resume();
  ASSERT_TRUE(daemon.wait_for("/metrics", target_up(1), 15s)) << daemon.log();
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait_exit(10s), 0);
  EXPECT_EQ(redis.count_keys("chaosd:*"), 0);
}

TEST(Daemon, JsonLogsAreOneValidObjectPerLine) {
  RedisServer redis;
  std::string config = config_for(redis);
  config.replace(config.find("[daemon]\n"), 9, "[daemon]\nlog_format = \"json\"\n");
  DaemonProcess daemon(config, {"--log-level", "debug"});
  ASSERT_TRUE(daemon.wait_for(
      "/metrics", [](const HttpReply& r) { return has_runs(r, "ttl", 1); }, 20s));
  daemon.signal(SIGTERM);
  ASSERT_EQ(daemon.wait_exit(10s), 0);
  std::istringstream lines(daemon.log());
  std::string line;
  int parsed = 0;
  bool saw_debug = false;
  while (std::getline(lines, line)) {
    auto record = nlohmann::json::parse(line);  // throws (fails the test) on a malformed line
    EXPECT_TRUE(record.contains("time") && record.contains("level") && record.contains("msg"));
    saw_debug = saw_debug || record["level"] == "debug";
    ++parsed;
  }
  EXPECT_GE(parsed, 3);
  EXPECT_TRUE(saw_debug) << "--log-level debug must override the config's level";
}

TEST(Daemon, SighupAppliesAGoodConfigAndKeepsTheOldOneOnABadOne) {
  RedisServer redis;
  DaemonProcess daemon(config_for(redis));
  ASSERT_TRUE(daemon.wait_for(
      "/api/v1/probes", [](const HttpReply& r) { return r.status == 200; }, 5s));
  daemon.rewrite_config(config_for(redis) +
                        "[[probes]]\nname = \"bogus\"\ntype = \"latency\"\n"
                        "interval = \"5x\"\n");
  daemon.signal(SIGHUP);
  auto rejected = [&] { return daemon.log().find("reload rejected") != std::string::npos; };
  for (int i = 0; i < 100 && !rejected(); ++i) std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(rejected()) << daemon.log();
  EXPECT_NE(daemon.log().find("probes[2].interval"), std::string::npos) << daemon.log();
  EXPECT_EQ(http_get(daemon.port(), "/healthz").status, 200);

  daemon.rewrite_config(config_for(redis) +
                        "[[probes]]\nname = \"latency2\"\ntype = \"latency\"\n");
  daemon.signal(SIGHUP);
  EXPECT_TRUE(daemon.wait_for(
      "/api/v1/probes",
      [](const HttpReply& r) { return r.body.find("\"latency2\"") != std::string::npos; }, 10s))
      << daemon.log();
}

TEST(Once, PassesOnAHealthyServerAndWritesAJsonReport) {
  RedisServer redis;
  TempDir dir;
  auto config = dir.write("once.toml", config_for(redis));
  auto report = dir.path() / "report.json";
  auto once = run_program(
      {CHAOSD_BINARY, "--once", "--config", config.string(), "--report", report.string()});
  EXPECT_EQ(once.exit_code, 0) << once.output;
  EXPECT_NE(once.output.find("ttl_expiry_accuracy_ratio"), std::string::npos);
  std::ifstream in(report);
  auto json = nlohmann::json::parse(in);
  EXPECT_EQ(json["passed"], true);
  EXPECT_EQ(json["probes"].size(), 2u);
  EXPECT_EQ(redis.count_keys("chaosd:*"), 0);
  // Each run's cost: CPU time and the commands sent, which the server saw (and more: the
  // connection handshakes, the target checks and the cleanup are not in any run).
  int64_t commands = 0;
  for (const auto& run : json["probes"]) {
    EXPECT_GT(run["cpu_seconds"].get<double>(), 0.0) << run.dump();
    EXPECT_GT(run["redis_commands"].get<int64_t>(), 0) << run.dump();
    commands += run["redis_commands"].get<int64_t>();
  }
  const std::string info = redis.cli({"INFO", "stats"});
  const auto at = info.find("total_commands_processed:");
  ASSERT_NE(at, std::string::npos) << info;
  const int64_t processed = std::stoll(info.substr(at + 25));
  EXPECT_LE(commands, processed);
}

TEST(Once, ABreachFailsTheGateAndShowsInJUnit) {
  RedisServer redis;
  TempDir dir;
  // No command is ever faster than 0 s: this SLA cannot hold.
  auto config = dir.write(
      "once.toml", config_for(redis,
                              "[[sla]]\nname = \"impossible\"\nprobe = \"latency\"\n"
                              "measurement = \"get_latency_seconds\"\nthreshold = \"< 0\"\n"));
  auto report = dir.path() / "report.xml";
  auto once = run_program(
      {CHAOSD_BINARY, "--once", "--config", config.string(), "--report", report.string()});
  EXPECT_EQ(once.exit_code, 1) << once.output;
  std::ifstream in(report);
  std::string xml((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(xml.find("failures=\"1\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("name=\"impossible\"><failure"), std::string::npos) << xml;
}

TEST(Daemon, ConfigErrorsNamePositionAndKeyAndExitTwo) {
  TempDir dir;
  auto file = dir.write("bad.toml",
                        "[[targets]]\nname = \"main\"\naddress = \"127.0.0.1:6379\"\n"
                        "[[probes]]\ntype = \"ttl\"\ninterval = \"5x\"\n");
  auto checked = run_program({CHAOSD_BINARY, "--check-config", "--config", file.string()});
  EXPECT_EQ(checked.exit_code, 2);
  EXPECT_NE(checked.output.find("bad.toml:6:12: probes[0].interval"), std::string::npos)
      << checked.output;

  auto good =
      dir.write("good.toml", "[[targets]]\nname = \"main\"\naddress = \"127.0.0.1:6379\"\n");
  EXPECT_EQ(run_program({CHAOSD_BINARY, "--check-config", "--config", good.string()}).exit_code, 0);
  EXPECT_EQ(run_program({CHAOSD_BINARY, "--no-such-flag"}).exit_code, 2);
  auto version = run_program({CHAOSD_BINARY, "--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.output.rfind("redis-chaosd ", 0), 0u);
  auto printed = run_program({CHAOSD_BINARY, "--print-config", "--config", good.string()});
  EXPECT_EQ(printed.exit_code, 0);
  EXPECT_NE(printed.output.find("key_prefix"), std::string::npos);
}

}  // namespace
}  // namespace chaosd::test
