// node_kill on a node redis-chaosd did not start: SHUTDOWN NOSAVE (or the target's kill_command)
// takes a real redis-server down, the target's restart_command brings one back on the same port,
// and revert waits until it answers. The restarted server is a daemonized redis-server outside the
// fixture: the test kills it through its pidfile.

#include "daemon/external_nodes.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>

#include "tests/integration/chaos_test_support.h"
#include "tests/support/temp_dir.h"

namespace chaosd {
namespace {
using namespace std::chrono_literals;
using test::context_for;
using test::FaultStep;
using test::make_fault;
using test::prepare_and_inject;
using test::run_step;
namespace asio = boost::asio;

// Kills the redis-server a restart_command daemonized, whatever the test did.
struct DaemonizedServer {
  test::TempDir dir{"external-node"};
  std::filesystem::path pidfile = dir.path() / "redis.pid";
  ~DaemonizedServer() {
    std::ifstream in(pidfile);
    pid_t pid = 0;
    if (in >> pid && pid > 0) ::kill(pid, SIGKILL);
  }
  std::vector<std::string> restart_command() const {
    return {"redis-server",
            "--port",
            "{port}",
            "--bind",
            "{host}",
            "--daemonize",
            "yes",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            dir.path().string(),
            "--pidfile",
            pidfile.string()};
  }
};

TEST(ExternalNodes, CommandTemplatesTakeTheNode) {
  EXPECT_EQ(expand_node_command({"systemctl", "restart", "redis@{port}", "{host}", "{node}"},
                                "10.0.0.5:6380"),
            (std::vector<std::string>{"systemctl", "restart", "redis@6380", "10.0.0.5",
                                      "10.0.0.5:6380"}));
}

TEST(ExternalNodes, ShutdownNosaveThenRestartCommandAndRevertIsIdempotent) {
  test::RedisServer server;
  DaemonizedServer restarted;
  TargetConfig target;
  target.name = "staging";
  target.restart_command = restarted.restart_command();
  asio::io_context io;
  ExternalNodes nodes(io.get_executor(), target);
  auto ctx = context_for(io, server, &nodes);
  ctx.fault_id = "f-external-1";
  ctx.duration = 10s;
  auto fault = make_fault("node_kill", nlohmann::json::object());
  ASSERT_EQ(prepare_and_inject(io, *fault, ctx), "");
  // The server is gone (SHUTDOWN NOSAVE): nothing answers on its port.
  EXPECT_THROW(server.cli({"PING"}), std::runtime_error);
  // Revert from the record alone: restart_command, then PING.
  auto rebuilt = restore_fault(fault->record());
  ASSERT_TRUE(rebuilt);
  ASSERT_EQ(run_step(io, *rebuilt.value(), ctx, FaultStep::revert), "");
  EXPECT_EQ(server.cli({"PING"}), "PONG");
  EXPECT_TRUE(std::filesystem::exists(restarted.pidfile));  // really the restart_command's server
  // Reverting again finds it up and runs nothing.
  ASSERT_EQ(run_step(io, *fault, ctx, FaultStep::revert), "");
  EXPECT_EQ(server.cli({"PING"}), "PONG");
}

TEST(ExternalNodes, KillCommandIsUsedWhenSetAndFailuresAreReported) {
  test::RedisServer server;
  DaemonizedServer restarted;
  TargetConfig target;
  target.name = "staging";
  target.kill_command = {"redis-cli", "-h", "{host}", "-p", "{port}", "shutdown", "nosave"};
  target.restart_command = restarted.restart_command();
  asio::io_context io;
  ExternalNodes nodes(io.get_executor(), target);
  auto ctx = context_for(io, server, &nodes);
  ctx.fault_id = "f-external-2";
  ctx.duration = 10s;
  auto fault = make_fault("node_kill", nlohmann::json::object());
  ASSERT_EQ(prepare_and_inject(io, *fault, ctx), "");
  EXPECT_THROW(server.cli({"PING"}), std::runtime_error);
  ASSERT_EQ(run_step(io, *fault, ctx, FaultStep::revert), "");
  EXPECT_EQ(server.cli({"PING"}), "PONG");

  // A restart_command that fails is an error with its exit status and output, retried later.
  target.restart_command = {"sh", "-c", "echo cannot start redis on {port} >&2; exit 3"};
  ExternalNodes failing(io.get_executor(), target);
  ctx.nodes = &failing;
  auto second = make_fault("node_kill", nlohmann::json::object());
  ASSERT_EQ(prepare_and_inject(io, *second, ctx), "");
  auto error = run_step(io, *second, ctx, FaultStep::revert);
  EXPECT_NE(error.find("exited with 3: cannot start redis on " + std::to_string(server.port())),
            std::string::npos)
      << error;

  // A node that is not host:port (a hand-edited journal) is an error, never an exception.
  ctx.node = "not-an-address";
  auto third = make_fault("node_kill", nlohmann::json::object());
  auto refused = prepare_and_inject(io, *third, ctx);
  EXPECT_NE(refused.find("node \"not-an-address\" is not host:port"), std::string::npos) << refused;
}

}  // namespace
}  // namespace chaosd
