// The chaos API of the daemon binary against real redis-server processes: every HTTP status, a
// memory_pressure fault that really changes maxmemory and is really taken back (DELETE, halt,
// SIGTERM, and the reconcile after a SIGKILL), the dead-man switch, the chaos metrics, and
// node_kill on the lab.

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "tests/support/daemon_process.h"
#include "tests/support/redis_server.h"

namespace chaosd::test {
namespace {
using namespace std::chrono_literals;
using nlohmann::json;

const std::string kToken = "e2e-chaos-token-0123456789abcdef";

// A config with chaos on, the token in a file, a chaos_allowed target "main" on `redis` and a
// target "guarded" (the same server) that does not allow chaos.
std::string chaos_config(const RedisServer& redis, const TempDir& dir,
                         const std::string& chaos_extra = "", bool enabled = true) {
  auto token_file = dir.write("token", kToken + "\n");
  return "[daemon]\nstate_dir = \"" + (dir.path() / "state").string() +
         "\"\nshutdown_timeout = \"5s\"\n"
         "[chaos]\nenabled = " +
         (enabled ? "true" : "false") + "\ntoken_file = \"" + token_file.string() + "\"\n" +
         chaos_extra + "[[targets]]\nname = \"main\"\naddress = \"" + redis.address() +
         "\"\nchaos_allowed = true\n"
         "[[targets]]\nname = \"guarded\"\naddress = \"" +
         redis.address() +
         "\"\n"
         "[[probes]]\ntype = \"latency\"\ntarget = \"main\"\ninterval = \"500ms\"\n";
}

std::string maxmemory(const RedisServer& redis) {
  std::string reply = redis.cli({"CONFIG", "GET", "maxmemory"});
  return reply.substr(reply.find('\n') + 1);
}

const std::string kSqueeze =
    R"({"fault":"memory_pressure","target":"main","duration":"60s","params":{"maxmemory":"8mb"}})";

HttpReply post(const DaemonProcess& d, const std::string& path, const std::string& body,
               const std::string& token = kToken) {
  return http_call(d.port(), "POST", path, body, token);
}

std::string error_of(const HttpReply& reply) {
  auto body = json::parse(reply.body, nullptr, false);
  return body.is_object() ? body.value("error", "") : reply.body;
}

std::optional<double> metric(const DaemonProcess& d, const std::string& name,
                             const std::vector<std::string>& labels = {}) {
  return metric_value(http_get(d.port(), "/metrics").body, name, labels);
}

TEST(ChaosApi, EveryStatusCodeAndAFaultThatComesAndGoes) {
  RedisServer redis;
  TempDir dir;
  DaemonProcess daemon(chaos_config(redis, dir));
  const int port = daemon.port();
  ASSERT_EQ(maxmemory(redis), "0");

  auto listed = http_get(port, "/api/v1/faults");
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(json::parse(listed.body)["enabled"], true);
  EXPECT_TRUE(json::parse(listed.body)["active"].empty());
  EXPECT_EQ(metric(daemon, "redis_chaosd_chaos_enabled"), 1.0);
  EXPECT_EQ(metric(daemon, "redis_chaosd_chaos_halted"), 0.0);
  EXPECT_EQ(metric(daemon, "redis_chaosd_chaos_injections_total",
                   {"fault=\"memory_pressure\"", "result=\"success\""}),
            0.0);

  // 401: no token, a wrong one, a token of another length; nothing changed.
  EXPECT_EQ(post(daemon, "/api/v1/faults", kSqueeze, "").status, 401);
  EXPECT_EQ(post(daemon, "/api/v1/faults", kSqueeze, "e2e-chaos-token-0123456789abcdeX").status,
            401);
  EXPECT_EQ(post(daemon, "/api/v1/faults", kSqueeze, "short").status, 401);
  EXPECT_EQ(post(daemon, "/api/v1/chaos/halt", R"({"reason":"x"})", "").status, 401);
  EXPECT_EQ(http_call(port, "DELETE", "/api/v1/faults/f-1", "", "wrong").status, 401);
  EXPECT_EQ(maxmemory(redis), "0");

  // 400: bad JSON, missing fields, an unknown fault, bad params.
  EXPECT_EQ(post(daemon, "/api/v1/faults", "{not json").status, 400);
  EXPECT_EQ(post(daemon, "/api/v1/faults", R"({"fault":"memory_pressure","target":"main"})").status,
            400);
  auto unknown = post(daemon, "/api/v1/faults",
                      R"({"fault":"meteor_strike","target":"main","duration":"5s"})");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(error_of(unknown).find("memory_pressure"), std::string::npos) << unknown.body;
  auto bad_param = post(daemon, "/api/v1/faults",
                        R"({"fault":"memory_pressure","target":"main","duration":"5s",)"
                        R"("params":{"maxmemory":"8 parsecs"}})");
  EXPECT_EQ(bad_param.status, 400);
  EXPECT_NE(error_of(bad_param).find("maxmemory"), std::string::npos) << bad_param.body;
  EXPECT_EQ(post(daemon, "/api/v1/chaos/halt", R"({})").status, 400);  // a halt needs a reason
  // node_kill on an external target is refused with its reason.
  auto kill =
      post(daemon, "/api/v1/faults", R"({"fault":"node_kill","target":"main","duration":"5s"})");
  EXPECT_EQ(kill.status, 400);
  EXPECT_NE(error_of(kill).find("needs a restart_command"), std::string::npos) << kill.body;

  // 404: an unknown target, an unknown fault id. 403: a target that does not allow chaos.
  EXPECT_EQ(
      post(
          daemon, "/api/v1/faults",
          R"({"fault":"memory_pressure","target":"nope","duration":"5s","params":{"maxmemory":"8mb"}})")
          .status,
      404);
  EXPECT_EQ(http_call(port, "DELETE", "/api/v1/faults/f-0-00000000", "", kToken).status, 404);
  auto guarded = post(
      daemon, "/api/v1/faults",
      R"({"fault":"memory_pressure","target":"guarded","duration":"5s","params":{"maxmemory":"8mb"}})");
  EXPECT_EQ(guarded.status, 403);
  EXPECT_NE(error_of(guarded).find("chaos_allowed"), std::string::npos) << guarded.body;

  // 413: a body over 64 KiB.
  EXPECT_EQ(post(daemon, "/api/v1/faults", std::string(70 * 1024, ' ')).status, 413);
  EXPECT_EQ(maxmemory(redis), "0");

  // 201: the fault is on the server, listed, and in the metrics.
  auto injected = post(daemon, "/api/v1/faults", kSqueeze);
  ASSERT_EQ(injected.status, 201) << injected.body << daemon.log();
  const std::string id = json::parse(injected.body).at("id");
  EXPECT_EQ(maxmemory(redis), "8388608");
  auto active = json::parse(http_get(port, "/api/v1/faults").body);
  ASSERT_EQ(active["active"].size(), 1u) << active;
  EXPECT_EQ(active["active"][0]["id"], id);
  EXPECT_EQ(active["active"][0]["phase"], "active");
  EXPECT_EQ(metric(daemon, "redis_chaosd_chaos_fault_active",
                   {"fault=\"memory_pressure\"", "target=\"main\""}),
            1.0);
  EXPECT_EQ(metric(daemon, "redis_chaosd_chaos_injections_total",
                   {"fault=\"memory_pressure\"", "result=\"success\""}),
            1.0);

  // 409: max_active_faults = 1 (and one fault per node).
  auto second =
      post(daemon, "/api/v1/faults",
           R"({"fault":"client_kill","target":"main","duration":"5s","params":{"type":"pubsub"}})");
  EXPECT_EQ(second.status, 409) << second.body;
  EXPECT_NE(error_of(second).find("max_active_faults"), std::string::npos) << second.body;

  // DELETE takes it back at once: the original maxmemory is restored.
  auto deleted = http_call(port, "DELETE", "/api/v1/faults/" + id, "", kToken);
  EXPECT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(maxmemory(redis), "0");
  auto after = json::parse(http_get(port, "/api/v1/faults").body);
  EXPECT_TRUE(after["active"].empty()) << after;
  ASSERT_FALSE(after["recent"].empty()) << after;
  EXPECT_EQ(after["recent"][0]["id"], id);
  EXPECT_EQ(after["recent"][0]["event"], "reverted");
  EXPECT_EQ(metric(daemon, "redis_chaosd_chaos_fault_active",
                   {"fault=\"memory_pressure\"", "target=\"main\""}),
            0.0);
  EXPECT_EQ(metric(daemon, "redis_chaosd_chaos_reverts_total",
                   {"fault=\"memory_pressure\"", "result=\"success\""}),
            1.0);
  EXPECT_EQ(http_call(port, "DELETE", "/api/v1/faults/" + id, "", kToken).status, 404);

  // Halt with a fault active: it is reverted, and new faults get 409 until resume.
  auto again = post(daemon, "/api/v1/faults", kSqueeze);
  ASSERT_EQ(again.status, 201) << again.body;
  EXPECT_EQ(maxmemory(redis), "8388608");
  auto halted = post(daemon, "/api/v1/chaos/halt", R"({"reason":"e2e incident"})");
  EXPECT_EQ(halted.status, 200) << halted.body;
  EXPECT_EQ(maxmemory(redis), "0");
  EXPECT_EQ(metric(daemon, "redis_chaosd_chaos_halted"), 1.0);
  auto refused = post(daemon, "/api/v1/faults", kSqueeze);
  EXPECT_EQ(refused.status, 409);
  EXPECT_NE(error_of(refused).find("e2e incident"), std::string::npos) << refused.body;
  EXPECT_EQ(maxmemory(redis), "0");
  EXPECT_EQ(json::parse(http_get(port, "/api/v1/faults").body)["halted"], true);
  EXPECT_EQ(post(daemon, "/api/v1/chaos/resume", "").status, 200);
  EXPECT_EQ(metric(daemon, "redis_chaosd_chaos_halted"), 0.0);
  auto resumed = post(daemon, "/api/v1/faults", kSqueeze);
  EXPECT_EQ(resumed.status, 201) << resumed.body;
  EXPECT_EQ(maxmemory(redis), "8388608");
  EXPECT_EQ(post(daemon, "/api/v1/chaos/heartbeat", "").status, 200);

  // The accepted calls are audit-logged with the caller's address.
  std::string log = daemon.log();
  EXPECT_NE(log.find("audit: POST /api/v1/faults accepted: fault=memory_pressure target=main"),
            std::string::npos);
  EXPECT_NE(log.find("audit: DELETE /api/v1/faults/" + id + " accepted"), std::string::npos);
  EXPECT_NE(log.find("audit: POST /api/v1/chaos/halt accepted: reason=\"e2e incident\" from "
                     "127.0.0.1:"),
            std::string::npos);

  // The metrics stay valid exposition format with the chaos families in.
  auto text = http_get(port, "/metrics").body;
  auto file = dir.write("metrics.txt", text);
  auto check = run_program({"promtool", "check", "metrics"}, file.string());
  EXPECT_EQ(check.exit_code, 0) << check.output;

  // SIGTERM with a fault active: it is reverted before the daemon exits.
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait_exit(15s), 0) << daemon.log();
  EXPECT_EQ(maxmemory(redis), "0");
  EXPECT_NE(daemon.log().find("chaos: every fault reverted"), std::string::npos) << daemon.log();
}

TEST(ChaosApi, ChaosDisabledRefusesEveryMutatingCallWith403) {
  RedisServer redis;
  TempDir dir;
  DaemonProcess daemon(chaos_config(redis, dir, "", /*enabled=*/false));
  EXPECT_EQ(post(daemon, "/api/v1/faults", kSqueeze).status, 403);
  EXPECT_EQ(post(daemon, "/api/v1/chaos/halt", R"({"reason":"x"})").status, 403);
  EXPECT_EQ(post(daemon, "/api/v1/chaos/resume", "").status, 403);
  EXPECT_EQ(http_call(daemon.port(), "DELETE", "/api/v1/faults/f-1", "", kToken).status, 403);
  auto listed = http_get(daemon.port(), "/api/v1/faults");
  ASSERT_EQ(listed.status, 200);
  EXPECT_EQ(json::parse(listed.body)["enabled"], false);
  EXPECT_EQ(metric(daemon, "redis_chaosd_chaos_enabled"), 0.0);
  EXPECT_EQ(maxmemory(redis), "0");
}

TEST(ChaosApi, ASigkilledDaemonsFaultIsRevertedByTheNextStartOnTheSameStateDir) {
  RedisServer redis;
  TempDir dir;
  const std::string config = chaos_config(redis, dir);
  std::string id;
  {
    DaemonProcess first(config);
    auto injected = post(first, "/api/v1/faults", kSqueeze);
    ASSERT_EQ(injected.status, 201) << injected.body;
    id = json::parse(injected.body).at("id");
    ASSERT_EQ(maxmemory(redis), "8388608");
    first.signal(SIGKILL);
    ASSERT_TRUE(first.wait_exit(5s).has_value());
  }
  // Nothing took it back: the fault is still on the server.
  EXPECT_EQ(maxmemory(redis), "8388608");
  DaemonProcess second(config);
  // Reconcile runs before the probes start; the HTTP server is already up, so poll.
  for (int i = 0; i < 100 && maxmemory(redis) != "0"; ++i) std::this_thread::sleep_for(50ms);
  EXPECT_EQ(maxmemory(redis), "0") << second.log();
  EXPECT_NE(second.log().find("reconcile reverted leftover fault " + id), std::string::npos)
      << second.log();
  EXPECT_EQ(metric(second, "redis_chaosd_chaos_reverts_total",
                   {"fault=\"memory_pressure\"", "result=\"success\""}),
            1.0);
  // And the new daemon injects again as usual.
  EXPECT_EQ(post(second, "/api/v1/faults", kSqueeze).status, 201);
}

TEST(ChaosApi, ALeftoverIsRevertedEvenWhenTheNextStartHasChaosDisabled) {
  RedisServer redis;
  TempDir dir;
  {
    DaemonProcess first(chaos_config(redis, dir));
    ASSERT_EQ(post(first, "/api/v1/faults", kSqueeze).status, 201);
    first.signal(SIGKILL);
    ASSERT_TRUE(first.wait_exit(5s).has_value());
  }
  ASSERT_EQ(maxmemory(redis), "8388608");
  DaemonProcess second(chaos_config(redis, dir, "", /*enabled=*/false));
  for (int i = 0; i < 100 && maxmemory(redis) != "0"; ++i) std::this_thread::sleep_for(50ms);
  EXPECT_EQ(maxmemory(redis), "0") << second.log();
  EXPECT_EQ(post(second, "/api/v1/faults", kSqueeze).status, 403);
  // With nothing pending any more, a chaos-off daemon does not need the journal's lock: two of
  // them share the state_dir.
  second.signal(SIGTERM);
  ASSERT_EQ(second.wait_exit(10s), 0);
  DaemonProcess third(chaos_config(redis, dir, "", false));
  DaemonProcess fourth(chaos_config(redis, dir, "", false));
  EXPECT_EQ(http_get(fourth.port(), "/healthz").status, 200);
}

TEST(ChaosApi, TheDeadManSwitchHaltsWhenHeartbeatsStop) {
  RedisServer redis;
  TempDir dir;
  DaemonProcess daemon(chaos_config(redis, dir, "deadman_seconds = 2\n"));
  EXPECT_EQ(post(daemon, "/api/v1/chaos/heartbeat", "").status, 200);
  ASSERT_EQ(post(daemon, "/api/v1/faults", kSqueeze).status, 201);
  // Heartbeats every 300 ms for 3 s (longer than the switch): the fault stays.
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(post(daemon, "/api/v1/chaos/heartbeat", "").status, 200);
    std::this_thread::sleep_for(300ms);
  }
  EXPECT_EQ(maxmemory(redis), "8388608");
  EXPECT_EQ(metric(daemon, "redis_chaosd_chaos_halted"), 0.0);
  // No more heartbeats: within a few seconds everything is halted and reverted.
  ASSERT_TRUE(daemon.wait_for(
      "/api/v1/faults",
      [](const HttpReply& r) { return json::parse(r.body, nullptr, false).value("halted", false); },
      10s))
      << daemon.log();
  EXPECT_EQ(maxmemory(redis), "0");
  EXPECT_EQ(post(daemon, "/api/v1/faults", kSqueeze).status, 409);
  EXPECT_NE(daemon.log().find("dead-man switch"), std::string::npos);
}

TEST(ChaosApi, NodeKillOnTheLabKillsTheNodeAndTheDeadlineRestartsIt) {
  TempDir dir;
  auto token_file = dir.write("token", kToken + "\n");
  DaemonProcess daemon("[daemon]\nstate_dir = \"" + (dir.path() / "state").string() +
                       "\"\n[lab]\ntopologies = [\"standalone\"]\n[chaos]\nenabled = true\n"
                       "token_file = \"" +
                       token_file.string() +
                       "\"\n[[probes]]\ntype = \"latency\"\ntarget = \"standalone\"\n"
                       "interval = \"200ms\"\n");
  auto up = [](const HttpReply& r) {
    auto v = metric_value(r.body, "redis_chaosd_target_up", {"target=\"standalone\""});
    return v && *v == 1.0;
  };
  ASSERT_TRUE(daemon.wait_for("/metrics", up, 20s)) << daemon.log();
  auto injected = post(daemon, "/api/v1/faults",
                       R"({"fault":"node_kill","target":"standalone","duration":"3s"})");
  ASSERT_EQ(injected.status, 201) << injected.body << daemon.log();
  EXPECT_EQ(json::parse(injected.body)["node"], "standalone-1");
  auto down = [](const HttpReply& r) {
    auto v = metric_value(r.body, "redis_chaosd_target_up", {"target=\"standalone\""});
    return v && *v == 0.0;
  };
  EXPECT_TRUE(daemon.wait_for("/metrics", down, 5s)) << daemon.log();
  // The watchdog restarts it at the deadline, without anyone asking.
  ASSERT_TRUE(daemon.wait_for(
      "/api/v1/faults",
      [](const HttpReply& r) {
        auto body = json::parse(r.body, nullptr, false);
        return body.is_object() && body["active"].empty() && !body["recent"].empty() &&
               body["recent"][0]["reason"] == "deadline";
      },
      15s))
      << daemon.log();
  EXPECT_TRUE(daemon.wait_for("/metrics", up, 10s)) << daemon.log();
}

TEST(ChaosApi, TheLabWithoutATokenGeneratesOneAndPrintsIt) {
  TempDir dir;
  unsetenv("REDIS_CHAOSD_TOKEN");
  DaemonProcess daemon("[daemon]\nstate_dir = \"" + (dir.path() / "state").string() +
                       "\"\n[lab]\ntopologies = [\"standalone\"]\n[chaos]\nenabled = true\n");
  const std::string marker = "generated one for this run: ";
  std::string log = daemon.log();
  auto at = log.find(marker);
  ASSERT_NE(at, std::string::npos) << log;
  std::string token = log.substr(at + marker.size(), 32);
  EXPECT_EQ(token.find_first_not_of("0123456789abcdef"), std::string::npos) << token;
  EXPECT_EQ(post(daemon, "/api/v1/chaos/heartbeat", "", token).status, 200);
  EXPECT_EQ(post(daemon, "/api/v1/chaos/heartbeat", "", kToken).status, 401);
}

// Experiments: "squeeze" on demand (watches the target's SLAs), "doomed" aborted by an SLA that
// always breaches, "rehearsal" a dry run every second.
std::string experiments_config(const RedisServer& redis, const TempDir& dir) {
  return chaos_config(redis, dir) +
         "[[sla]]\nname = \"always-breached\"\nprobe = \"latency\"\n"
         "measurement = \"ping_latency_seconds\"\nthreshold = \"< 0\"\nobjective = 0.5\n"
         "[[experiments]]\nname = \"squeeze\"\nfault = \"memory_pressure\"\ntarget = \"main\"\n"
         "duration = \"2s\"\nparams = { maxmemory = \"8mb\" }\n"
         "[[experiments]]\nname = \"doomed\"\nfault = \"memory_pressure\"\ntarget = \"main\"\n"
         "duration = \"60s\"\nabort_on = [\"always-breached\"]\n"
         "params = { maxmemory = \"8mb\" }\n"
         "[[experiments]]\nname = \"rehearsal\"\nfault = \"memory_pressure\"\n"
         "target = \"main\"\nduration = \"5s\"\ntrigger = \"interval\"\ninterval = \"1s\"\n"
         "dry_run = true\nparams = { maxmemory = \"8mb\" }\n";
}

json find_run(const DaemonProcess& d, const std::string& id) {
  auto runs = json::parse(http_get(d.port(), "/api/v1/runs").body, nullptr, false);
  if (!runs.is_object()) return json();
  for (const auto& run : runs["runs"]) {
    if (run["id"] == id) return run;
  }
  return json();
}

bool finished(const json& run) {
  return run.is_object() &&
         (run["state"] == "succeeded" || run["state"] == "aborted" || run["state"] == "failed");
}

TEST(ChaosExperiments, OnDemandRunInjectsRevertsAndRecordsSlaVerdicts) {
  RedisServer redis;
  TempDir dir;
  DaemonProcess daemon(experiments_config(redis, dir));
  auto listed = json::parse(http_get(daemon.port(), "/api/v1/experiments").body);
  ASSERT_EQ(listed["experiments"].size(), 3u) << listed;
  EXPECT_EQ(listed["experiments"][0]["name"], "squeeze");
  EXPECT_EQ(listed["experiments"][0]["trigger"], "on_demand");
  EXPECT_EQ(listed["experiments"][0]["params"]["maxmemory"], "8mb");
  EXPECT_EQ(metric(daemon, "redis_chaosd_experiment_runs_total",
                   {"experiment=\"squeeze\"", "outcome=\"succeeded\""}),
            0.0);

  EXPECT_EQ(post(daemon, "/api/v1/experiments/squeeze/run", "", "").status, 401);
  EXPECT_EQ(post(daemon, "/api/v1/experiments/nope/run", "").status, 404);
  auto started = post(daemon, "/api/v1/experiments/squeeze/run", "");
  ASSERT_EQ(started.status, 202) << started.body;
  const std::string id = json::parse(started.body).at("id");
  EXPECT_EQ(post(daemon, "/api/v1/experiments/squeeze/run", "").status, 409);  // running
  // The fault is really on while the run is active.
  bool squeezed = false;
  for (int i = 0; i < 100 && !squeezed; ++i) {
    squeezed = maxmemory(redis) == "8388608";
    if (!squeezed) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(squeezed);
  EXPECT_EQ(metric(daemon, "redis_chaosd_chaos_fault_active",
                   {"fault=\"memory_pressure\"", "experiment=\"squeeze\""}),
            1.0);
  json run;
  for (int i = 0; i < 200 && !finished(run); ++i) {
    std::this_thread::sleep_for(100ms);
    run = find_run(daemon, id);
  }
  ASSERT_TRUE(finished(run)) << run << daemon.log();
  EXPECT_EQ(run["state"], "succeeded") << run;
  EXPECT_EQ(maxmemory(redis), "0");
  EXPECT_FALSE(run["fault_id"].get<std::string>().empty());
  EXPECT_FALSE(run["injected_at"].is_null());
  EXPECT_FALSE(run["reverted_at"].is_null());
  // Verdicts of the target's SLAs before, during (with the events judged meanwhile) and after.
  EXPECT_TRUE(run["slas"]["before"].contains("latency_availability_ratio")) << run;
  EXPECT_TRUE(run["slas"]["during"]["latency_availability_ratio"].contains("good")) << run;
  EXPECT_TRUE(run["slas"]["after"].contains("latency_availability_ratio")) << run;
  EXPECT_EQ(metric(daemon, "redis_chaosd_experiment_runs_total",
                   {"experiment=\"squeeze\"", "outcome=\"succeeded\""}),
            1.0);
  EXPECT_EQ(metric(daemon, "redis_chaosd_chaos_fault_active",
                   {"fault=\"memory_pressure\"", "experiment=\"squeeze\""}),
            0.0);
  EXPECT_EQ(metric(daemon, "redis_chaosd_chaos_reverts_total",
                   {"fault=\"memory_pressure\"", "result=\"success\""}),
            1.0);
}

TEST(ChaosExperiments, AnAbortOnBreachRevertsBeforeTheDeadlineAndDryRunsInjectNothing) {
  RedisServer redis;
  TempDir dir;
  DaemonProcess daemon(experiments_config(redis, dir));
  // The always-breached SLA breaches with the first latency run.
  ASSERT_TRUE(daemon.wait_for(
      "/metrics",
      [](const HttpReply& r) {
        return metric_value(r.body, "redis_chaosd_sla_met", {"sla=\"always-breached\""}) == 0.0;
      },
      10s));
  auto started = post(daemon, "/api/v1/experiments/doomed/run", "");
  ASSERT_EQ(started.status, 202) << started.body;
  const std::string id = json::parse(started.body).at("id");
  json run;
  for (int i = 0; i < 200 && !finished(run); ++i) {
    std::this_thread::sleep_for(100ms);
    run = find_run(daemon, id);
  }
  ASSERT_TRUE(finished(run)) << run << daemon.log();
  // Aborted well before its 60 s deadline, and the server is back.
  EXPECT_EQ(run["state"], "aborted") << run;
  EXPECT_EQ(run["abort_reason"], "SLA always-breached breached");
  EXPECT_EQ(maxmemory(redis), "0");
  EXPECT_EQ(metric(daemon, "redis_chaosd_experiment_runs_total",
                   {"experiment=\"doomed\"", "outcome=\"aborted\""}),
            1.0);
  // The dry run on its 1 s interval ran, injected nothing, and succeeded.
  bool rehearsed = false;
  for (int i = 0; i < 100 && !rehearsed; ++i) {
    auto runs = json::parse(http_get(daemon.port(), "/api/v1/runs").body);
    for (const auto& r : runs["runs"]) {
      rehearsed = rehearsed || (r["experiment"] == "rehearsal" && r["state"] == "succeeded" &&
                                r["trigger"] == "interval" && r["fault_id"] == "");
    }
    if (!rehearsed) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(rehearsed);
  EXPECT_EQ(metric(daemon, "redis_chaosd_chaos_injections_total",
                   {"fault=\"memory_pressure\"", "result=\"success\""}),
            1.0);  // only doomed's
  // A halt refuses runs.
  ASSERT_EQ(post(daemon, "/api/v1/chaos/halt", R"({"reason":"freeze"})").status, 200);
  EXPECT_EQ(post(daemon, "/api/v1/experiments/squeeze/run", "").status, 409);
}

// Runs are kept in <state_dir>/chaos/runs.jsonl: a restart still lists the earlier ones.
TEST(ChaosExperiments, FinishedRunsSurviveARestart) {
  RedisServer redis;
  TempDir dir;
  const std::string config = experiments_config(redis, dir);
  std::string id;
  {
    DaemonProcess first(config);
    for (int i = 0; i < 100 && id.empty(); ++i) {  // the 1 s dry run "rehearsal"
      auto runs = json::parse(http_get(first.port(), "/api/v1/runs").body);
      for (const auto& r : runs["runs"]) {
        if (r["experiment"] == "rehearsal" && r["state"] == "succeeded") id = r["id"];
      }
      if (id.empty()) std::this_thread::sleep_for(100ms);
    }
    ASSERT_FALSE(id.empty()) << first.log();
    first.signal(SIGTERM);
    ASSERT_TRUE(first.wait_exit(10s).has_value());
  }
  DaemonProcess second(config);
  json run = find_run(second, id);
  ASSERT_TRUE(run.is_object()) << http_get(second.port(), "/api/v1/runs").body;
  EXPECT_EQ(run["state"], "succeeded");
  EXPECT_EQ(run["experiment"], "rehearsal");
}

// trigger = "daily": one run when the window is open, and not a second one after a restart
// inside the same window (the run history remembers it).
TEST(ChaosExperiments, ADailyExperimentRunsOncePerWindowAlsoOverARestart) {
  RedisServer redis;
  TempDir dir;
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const int minute = static_cast<int>(
      std::chrono::duration_cast<std::chrono::minutes>(now % std::chrono::hours(24)).count());
  auto hhmm = [](int m) {
    m = (m + 1440) % 1440;
    char text[8];
    std::snprintf(text, sizeof(text), "%02d:%02d", m / 60, m % 60);
    return std::string(text);
  };
  const std::string config =
      chaos_config(redis, dir) +
      "[[experiments]]\nname = \"nightly\"\nfault = \"memory_pressure\"\ntarget = \"main\"\n"
      "duration = \"1s\"\ntrigger = \"daily\"\nwindow = \"" +
      hhmm(minute - 1) + "-" + hhmm(minute + 10) +
      "\"\ndry_run = true\n"
      "params = { maxmemory = \"8mb\" }\n";
  auto nightly_runs = [](const DaemonProcess& d) {
    auto runs = json::parse(http_get(d.port(), "/api/v1/runs").body, nullptr, false);
    int count = 0;
    if (!runs.is_object()) return -1;
    for (const auto& r : runs["runs"]) count += r["experiment"] == "nightly" ? 1 : 0;
    return count;
  };
  {
    DaemonProcess first(config);
    ASSERT_TRUE(first.wait_for(
        "/api/v1/runs",
        [&](const HttpReply&) {
          json run = json::parse(http_get(first.port(), "/api/v1/runs").body)["runs"];
          return !run.empty() && run[0]["experiment"] == "nightly" &&
                 run[0]["state"] == "succeeded" && run[0]["trigger"] == "daily";
        },
        20s))
        << first.log();
    EXPECT_EQ(nightly_runs(first), 1);
    first.signal(SIGTERM);
    ASSERT_TRUE(first.wait_exit(10s).has_value());
  }
  DaemonProcess second(config);
  std::this_thread::sleep_for(2s);  // the first check of the daily trigger runs at start
  EXPECT_EQ(nightly_runs(second), 1) << http_get(second.port(), "/api/v1/runs").body;
  EXPECT_NE(second.log().find("once a day within"), std::string::npos) << second.log();
}

TEST(ChaosExperiments, BadExperimentsAreConfigErrors) {
  RedisServer redis;
  TempDir dir;
  auto check = [&](const std::string& experiment) {
    auto file = dir.write("bad.toml", chaos_config(redis, dir) + experiment);
    return run_program({CHAOSD_BINARY, "--check-config", "--config", file.string()});
  };
  auto unknown = check("[[experiments]]\nname = \"x\"\nfault = \"meteor\"\ntarget = \"main\"\n");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.output.find("experiments[0].fault: unknown fault \"meteor\""),
            std::string::npos)
      << unknown.output;
  auto param = check(
      "[[experiments]]\nname = \"x\"\nfault = \"memory_pressure\"\ntarget = \"main\"\n"
      "params = { maxmemory = \"8 parsecs\" }\n");
  EXPECT_EQ(param.exit_code, 2);
  EXPECT_NE(param.output.find("bad.toml:22:"), std::string::npos) << param.output;
  EXPECT_NE(param.output.find("maxmemory"), std::string::npos) << param.output;
  auto sla = check(
      "[[experiments]]\nname = \"x\"\nfault = \"memory_pressure\"\ntarget = \"main\"\n"
      "abort_on = [\"nope\"]\nparams = { maxmemory = \"8mb\" }\n");
  EXPECT_EQ(sla.exit_code, 2);
  EXPECT_NE(sla.output.find("no SLA named \"nope\""), std::string::npos) << sla.output;
  auto guarded =
      check("[[experiments]]\nname = \"x\"\nfault = \"memory_pressure\"\ntarget = \"guarded\"\n");
  EXPECT_EQ(guarded.exit_code, 2);
  EXPECT_NE(guarded.output.find("does not allow chaos"), std::string::npos) << guarded.output;
}

}  // namespace
}  // namespace chaosd::test
