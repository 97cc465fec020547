// FaultSupervisor against real redis-server processes: the deadline reverts a fault without
// anyone asking, halt reverts everything and refuses new faults, the interlocks hold, a failed
// revert is journaled and retried, and a "crash" (the supervisor dropped without reverting)
// leaves a pending journal record that the next start reconciles.

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <fstream>
#include <sstream>

#include "chaos/fault_supervisor.h"
#include "chaos/journal.h"
#include "tests/integration/chaos_test_support.h"
#include "tests/support/temp_dir.h"

namespace chaosd {
namespace {
using namespace std::chrono_literals;
using test::config_value;
using test::context_for;
using test::make_fault;
using test::run_on_loop;
using test::run_until;
namespace asio = boost::asio;

struct Harness {
  test::TempDir state{"chaos-state"};
  asio::io_context io;
  std::unique_ptr<FaultJournal> journal;
  std::unique_ptr<FaultSupervisor> supervisor;

  void open(SupervisorOptions options = {}) {
    auto opened = FaultJournal::open(state.path());
    if (!opened) throw std::runtime_error(opened.error().message);
    journal = std::move(opened.value());
    supervisor = std::make_unique<FaultSupervisor>(io.get_executor(), *journal, options);
  }
  /// As if the daemon was SIGKILLed: nothing is reverted, the journal file stays.
  void crash() {
    supervisor.reset();
    journal.reset();
  }
  /// The fault id, or "error: <code>: <message>".
  std::string inject(std::unique_ptr<Fault> fault, FaultContext context, Duration duration) {
    return run_on_loop<std::string>(io, [&]() -> asio::awaitable<std::string> {
      FaultRequest request{std::move(fault), std::move(context), duration, "test"};
      auto id = co_await supervisor->inject(std::move(request));
      co_return id ? id.value() : "error: " + id.error().describe();
    });
  }
  std::string halt(const std::string& reason) {
    return run_on_loop<std::string>(io, [&]() -> asio::awaitable<std::string> {
      auto halted = co_await supervisor->halt_all(reason);
      co_return halted ? std::string() : halted.error().describe();
    });
  }
  std::string revert(const std::string& id) {
    return run_on_loop<std::string>(io, [&]() -> asio::awaitable<std::string> {
      const std::string reason = "manual";
      auto reverted = co_await supervisor->revert(id, reason);
      co_return reverted ? std::string() : reverted.error().describe();
    });
  }
  ReconcileReport reconcile(const FaultSupervisor::ContextFactory& factory) {
    return run_on_loop<ReconcileReport>(io, [&]() -> asio::awaitable<ReconcileReport> {
      co_return co_await supervisor->reconcile(factory);
    });
  }
  /// "injecting,injected,reverted" for one fault id, read back from the file itself.
  std::string events(const std::string& id) const {
    std::ifstream in(state.path() / "chaos" / "faults.jsonl");
    std::stringstream text;
    text << in.rdbuf();
    std::string out;
    for (const auto& e : parse_journal(text.str()).entries) {
      if (e.id == id) out += std::string(out.empty() ? "" : ",") + to_string(e.event);
    }
    return out;
  }
  std::string last_reason(const std::string& id) const {
    std::string reason;
    for (const auto& e : journal->entries()) {
      if (e.id == id) reason = e.reason;
    }
    return reason;
  }
};

std::unique_ptr<Fault> squeeze() { return make_fault("memory_pressure", {{"maxmemory", "8mb"}}); }

TEST(ChaosSupervisor, DeadlineRevertsTheFaultWithoutAnyoneAsking) {
  test::RedisServer server;
  Harness h;
  h.open();
  auto id = h.inject(squeeze(), context_for(h.io, server), 500ms);
  ASSERT_EQ(id.rfind("f-", 0), 0u) << id;
  EXPECT_EQ(config_value(server, "maxmemory"), "8388608");
  ASSERT_EQ(h.supervisor->active().size(), 1u);
  EXPECT_EQ(h.supervisor->active()[0].phase, FaultPhase::active);
  auto injected_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(run_until(h.io, [&] { return h.supervisor->active_count() == 0; }));
  EXPECT_GE(std::chrono::steady_clock::now() - injected_at, 400ms);  // not before its deadline
  EXPECT_EQ(config_value(server, "maxmemory"), "0");
  EXPECT_EQ(h.events(id), "injecting,injected,reverted");
  EXPECT_EQ(h.last_reason(id), "deadline");
  EXPECT_TRUE(h.journal->pending().empty());
}

TEST(ChaosSupervisor, InterlocksMaxActiveFaultsOneFaultPerNodeAndBoundedDuration) {
  test::RedisServer a;
  test::RedisServer b;
  Harness h;
  h.open(SupervisorOptions{.max_active_faults = 1});
  auto first = h.inject(squeeze(), context_for(h.io, a), 30s);
  ASSERT_EQ(first.rfind("f-", 0), 0u) << first;
  auto second = h.inject(squeeze(), context_for(h.io, b), 30s);
  EXPECT_NE(second.find("conflict: max_active_faults (1)"), std::string::npos) << second;
  EXPECT_EQ(config_value(b, "maxmemory"), "0");  // untouched
  EXPECT_EQ(h.revert(first), "");
  EXPECT_EQ(config_value(a, "maxmemory"), "0");
  EXPECT_EQ(h.last_reason(first), "manual");
  EXPECT_NE(h.revert(first).find("not found"), std::string::npos);
  h.crash();

  h.open(SupervisorOptions{.max_active_faults = 2, .max_duration = 1min});
  auto on_a = h.inject(squeeze(), context_for(h.io, a), 30s);
  ASSERT_EQ(on_a.rfind("f-", 0), 0u) << on_a;
  auto again_a = h.inject(make_fault("node_pause", {{"mode", "write"}}), context_for(h.io, a), 5s);
  EXPECT_NE(again_a.find("one fault per node"), std::string::npos) << again_a;
  auto alias = context_for(h.io, a);
  alias.target = "same-server-other-name";  // a second [[targets]] entry for one server
  auto via_alias = h.inject(make_fault("node_pause", {{"mode", "write"}}), alias, 5s);
  EXPECT_NE(via_alias.find("one fault per node"), std::string::npos) << via_alias;
  auto too_long = h.inject(squeeze(), context_for(h.io, b), 2min);
  EXPECT_NE(too_long.find("invalid argument: duration"), std::string::npos) << too_long;
  auto zero = h.inject(squeeze(), context_for(h.io, b), 0s);
  EXPECT_NE(zero.find("invalid argument"), std::string::npos) << zero;
  auto on_b = h.inject(squeeze(), context_for(h.io, b), 30s);
  ASSERT_EQ(on_b.rfind("f-", 0), 0u) << on_b;
  EXPECT_EQ(h.halt("test over"), "");
  EXPECT_EQ(config_value(a, "maxmemory"), "0");
  EXPECT_EQ(config_value(b, "maxmemory"), "0");
}

TEST(ChaosSupervisor, HaltRevertsEverythingAndRefusesNewFaultsUntilResume) {
  test::RedisServer a({"--maxmemory", "64mb"});
  test::RedisServer b({"--maxmemory-policy", "allkeys-lfu"});
  Harness h;
  h.open(SupervisorOptions{.max_active_faults = 2});
  auto on_a = h.inject(squeeze(), context_for(h.io, a), 60s);
  auto on_b = h.inject(make_fault("memory_pressure", {{"policy", "noeviction"}}),
                       context_for(h.io, b), 60s);
  ASSERT_EQ(on_a.rfind("f-", 0), 0u) << on_a;
  ASSERT_EQ(on_b.rfind("f-", 0), 0u) << on_b;
  EXPECT_EQ(config_value(b, "maxmemory-policy"), "noeviction");

  EXPECT_EQ(h.halt("operator: incident 42"), "");
  EXPECT_TRUE(h.supervisor->halted());
  EXPECT_EQ(h.supervisor->active_count(), 0u);
  EXPECT_EQ(config_value(a, "maxmemory"), "67108864");
  EXPECT_EQ(config_value(b, "maxmemory-policy"), "allkeys-lfu");
  EXPECT_EQ(h.events(on_a), "injecting,injected,reverted");
  EXPECT_EQ(h.events(on_b), "injecting,injected,reverted");
  EXPECT_EQ(h.last_reason(on_a), "halt: operator: incident 42");

  auto refused = h.inject(squeeze(), context_for(h.io, a), 5s);
  EXPECT_NE(refused.find("conflict: chaos is halted: operator: incident 42"), std::string::npos)
      << refused;
  EXPECT_EQ(config_value(a, "maxmemory"), "67108864");
  h.supervisor->resume();
  auto resumed = h.inject(squeeze(), context_for(h.io, a), 5s);
  ASSERT_EQ(resumed.rfind("f-", 0), 0u) << resumed;
  EXPECT_EQ(h.revert(resumed), "");
  EXPECT_EQ(config_value(a, "maxmemory"), "67108864");
}

TEST(ChaosSupervisor, HaltDuringAnInjectionRevertsItAsSoonAsTheInjectionEnds) {
  test::RedisServer server;
  test::ServerNodes nodes;
  nodes.add(server);
  nodes.kill_delay = 300ms;
  Harness h;
  h.open();
  std::string injected;
  std::string halted;
  bool inject_done = false;
  bool halt_done = false;
  auto injector = [&]() -> asio::awaitable<void> {
    FaultRequest request{make_fault("node_kill", nlohmann::json::object()),
                         context_for(h.io, server, &nodes), 10s, "test"};
    auto id = co_await h.supervisor->inject(std::move(request));
    injected = id ? id.value() : id.error().describe();
    inject_done = true;
  };
  auto halter = [&]() -> asio::awaitable<void> {
    asio::steady_timer later(h.io, 50ms);  // the kill is under way by then
    co_await later.async_wait(asio::use_awaitable);
    const std::string reason = "stop now";
    auto status = co_await h.supervisor->halt_all(reason);
    halted = status ? std::string() : status.error().describe();
    halt_done = true;
  };
  asio::co_spawn(h.io, injector, asio::detached);
  asio::co_spawn(h.io, halter, asio::detached);
  ASSERT_TRUE(run_until(h.io, [&] { return inject_done && halt_done; }));
  EXPECT_NE(injected.find("halted during the injection"), std::string::npos) << injected;
  EXPECT_EQ(halted, "");
  EXPECT_TRUE(server.running());  // killed, then restarted by the halt
  EXPECT_EQ(server.cli({"PING"}), "PONG");
  EXPECT_EQ(h.supervisor->active_count(), 0u);
  ASSERT_EQ(h.journal->entries().size(), 3u);
  EXPECT_EQ(h.events(h.journal->entries()[0].id), "injecting,injected,reverted");
  EXPECT_EQ(h.journal->entries()[2].reason, "halt: stop now");
}

// A fault whose prepare() takes a while (a slow target): it counts what the supervisor calls.
class SlowPrepareFault : public Fault {
 public:
  explicit SlowPrepareFault(int* injects) : injects_(injects) {}
  const std::string& type() const override {
    static const std::string kType = "slow_prepare";
    return kType;
  }
  asio::awaitable<Status> prepare(FaultContext& ctx) override {
    asio::steady_timer slow(ctx.executor, 300ms);
    co_await slow.async_wait(asio::use_awaitable);
    co_return Ok{};
  }
  asio::awaitable<Status> inject(FaultContext&) override {
    ++*injects_;
    co_return Ok{};
  }
  asio::awaitable<Status> revert(FaultContext&) override { co_return Ok{}; }
  nlohmann::json record() const override {
    return {{"type", type()}, {"params", nlohmann::json::object()}, {"state", {}}};
  }

 private:
  int* injects_;
};

TEST(ChaosSupervisor, HaltDuringPrepareInjectsNothing) {
  test::RedisServer server;
  Harness h;
  h.open();
  int injects = 0;
  std::string injected;
  bool inject_done = false;
  bool halt_done = false;
  auto injector = [&]() -> asio::awaitable<void> {
    FaultRequest request{std::make_unique<SlowPrepareFault>(&injects), context_for(h.io, server),
                         10s, "test"};
    auto id = co_await h.supervisor->inject(std::move(request));
    injected = id ? id.value() : id.error().describe();
    inject_done = true;
  };
  auto halter = [&]() -> asio::awaitable<void> {
    asio::steady_timer later(h.io, 50ms);  // prepare() is under way by then
    co_await later.async_wait(asio::use_awaitable);
    const std::string reason = "stop now";
    (void)co_await h.supervisor->halt_all(reason);
    halt_done = true;
  };
  asio::co_spawn(h.io, injector, asio::detached);
  asio::co_spawn(h.io, halter, asio::detached);
  ASSERT_TRUE(run_until(h.io, [&] { return inject_done && halt_done; }));
  EXPECT_NE(injected.find("conflict: chaos was halted before the injection"), std::string::npos)
      << injected;
  EXPECT_EQ(injects, 0);
  EXPECT_EQ(h.supervisor->active_count(), 0u);
  EXPECT_TRUE(h.journal->entries().empty());  // nothing was injected, nothing to reconcile
}

TEST(ChaosSupervisor, CrashLeavesThePendingFaultAndReconcileRevertsIt) {
  test::RedisServer server({"--maxmemory", "100mb", "--maxmemory-policy", "volatile-ttl"});
  Harness h;
  h.open();
  auto id = h.inject(
      make_fault("memory_pressure",
                 {{"maxmemory", "8mb"}, {"policy", "allkeys-random"}, {"fill_ratio", 0.5}}),
      context_for(h.io, server), 60s);
  ASSERT_EQ(id.rfind("f-", 0), 0u) << id;
  EXPECT_GT(server.count_keys("chaosd-test:chaos:ballast:*"), 0);
  h.crash();  // nothing reverted
  EXPECT_EQ(config_value(server, "maxmemory"), "8388608");
  EXPECT_EQ(config_value(server, "maxmemory-policy"), "allkeys-random");

  h.open();
  auto pending = h.journal->pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].id, id);
  FaultSupervisor::ContextFactory factory =
      [&](const JournalEntry& record) -> Result<FaultContext> {
    if (record.node != server.address()) return Error{ErrorCode::not_found, "unknown node"};
    return context_for(h.io, server);
  };
  auto report = h.reconcile(factory);
  ASSERT_EQ(report.reverted, std::vector<std::string>{id});
  EXPECT_TRUE(report.failed.empty());
  EXPECT_EQ(config_value(server, "maxmemory"), "104857600");
  EXPECT_EQ(config_value(server, "maxmemory-policy"), "volatile-ttl");
  EXPECT_EQ(server.count_keys("chaosd-test:chaos:ballast:*"), 0);
  EXPECT_EQ(h.events(id), "injecting,injected,reverted");
  EXPECT_EQ(h.last_reason(id), "reconcile");
  EXPECT_TRUE(h.journal->pending().empty());
  EXPECT_EQ(h.supervisor->active_count(), 0u);
}

TEST(ChaosSupervisor, CrashInTheMiddleOfInjectIsRevertedFromTheInjectingRecord) {
  test::RedisServer server({"--maxmemory", "50mb"});
  Harness h;
  h.open();
  // What inject() does, cut short after the fault touched the server and before "injected".
  auto fault = squeeze();
  auto ctx = context_for(h.io, server);
  ctx.fault_id = "f-torn-1";
  ctx.duration = 60s;
  ASSERT_EQ(test::run_step(h.io, *fault, ctx, test::FaultStep::prepare), "");
  JournalEntry intent;
  intent.event = JournalEvent::injecting;
  intent.id = ctx.fault_id;
  intent.time = std::chrono::system_clock::now();
  intent.deadline = intent.time + 60s;
  intent.type = fault->type();
  intent.target = ctx.target;
  intent.node = ctx.node;
  intent.params = fault->record()["params"];
  intent.state = fault->record()["state"];
  ASSERT_TRUE(h.journal->append(intent));
  ASSERT_EQ(test::run_step(h.io, *fault, ctx, test::FaultStep::inject), "");
  h.crash();
  EXPECT_EQ(config_value(server, "maxmemory"), "8388608");

  h.open();
  FaultSupervisor::ContextFactory factory = [&](const JournalEntry&) -> Result<FaultContext> {
    return context_for(h.io, server);
  };
  auto report = h.reconcile(factory);
  EXPECT_EQ(report.reverted, std::vector<std::string>{"f-torn-1"});
  EXPECT_EQ(config_value(server, "maxmemory"), "52428800");
  EXPECT_EQ(h.events("f-torn-1"), "injecting,reverted");
}

TEST(ChaosSupervisor, FailedRevertIsJournaledLoudlyAndRetriedUntilItWorks) {
  test::RedisServer server;
  test::ServerNodes nodes;
  nodes.add(server);
  nodes.fail_restarts = 2;
  Harness h;
  h.open(SupervisorOptions{.revert_retry_interval = 200ms});
  auto id = h.inject(make_fault("node_kill", nlohmann::json::object()),
                     context_for(h.io, server, &nodes), 300ms);
  ASSERT_EQ(id.rfind("f-", 0), 0u) << id;
  EXPECT_FALSE(server.running());
  // Meanwhile the stuck fault keeps its slot: nothing new lands on top of it.
  ASSERT_TRUE(run_until(h.io, [&] { return nodes.restarts >= 1; }));
  ASSERT_EQ(h.supervisor->active().size(), 1u);
  EXPECT_EQ(h.supervisor->active()[0].phase, FaultPhase::revert_failed);
  EXPECT_NE(h.supervisor->active()[0].last_error.find("restart refused"), std::string::npos);
  ASSERT_TRUE(run_until(h.io, [&] { return h.supervisor->active_count() == 0; }));
  EXPECT_TRUE(server.running());
  EXPECT_EQ(server.cli({"PING"}), "PONG");
  EXPECT_EQ(nodes.restarts, 3);
  EXPECT_EQ(h.events(id), "injecting,injected,revert_failed,revert_failed,reverted");
  EXPECT_EQ(h.last_reason(id), "retry");
  bool error_recorded = false;
  for (const auto& e : h.journal->entries()) {
    if (e.event == JournalEvent::revert_failed) {
      error_recorded = e.error.find("restart refused") != std::string::npos;
    }
  }
  EXPECT_TRUE(error_recorded);
}

TEST(ChaosSupervisor, InjectFailureIsRevertedAndFreesTheSlot) {
  test::RedisServer server;
  Harness h;
  h.open();
  auto ctx = context_for(h.io, server);  // no proxy in it
  auto failed =
      h.inject(make_fault("network_latency", {{"link", "redis"}, {"latency", "5ms"}}), ctx, 5s);
  EXPECT_NE(failed.find("no fault proxy"), std::string::npos) << failed;
  EXPECT_EQ(h.supervisor->active_count(), 0u);
  ASSERT_EQ(h.journal->entries().size(), 2u);
  EXPECT_EQ(h.journal->entries()[1].event, JournalEvent::reverted);
  EXPECT_EQ(h.journal->entries()[1].reason, "inject failed");
  auto next = h.inject(squeeze(), context_for(h.io, server), 5s);
  ASSERT_EQ(next.rfind("f-", 0), 0u) << next;
  EXPECT_EQ(h.halt("done"), "");
}

TEST(ChaosSupervisor, ALeftoverThatCannotBeRebuiltIsReportedNeverDropped) {
  Harness h;
  h.open();
  JournalEntry alien;
  alien.event = JournalEvent::injected;
  alien.id = "f-alien-1";
  alien.type = "meteor_strike";
  alien.time = std::chrono::system_clock::now();
  alien.deadline = alien.time + 10s;
  ASSERT_TRUE(h.journal->append(alien));
  h.crash();
  h.open();
  FaultSupervisor::ContextFactory factory = [&](const JournalEntry&) -> Result<FaultContext> {
    return Error{ErrorCode::internal, "unreachable"};
  };
  auto report = h.reconcile(factory);
  EXPECT_TRUE(report.reverted.empty());
  ASSERT_EQ(report.failed.size(), 1u);
  EXPECT_NE(report.failed[0].find("meteor_strike"), std::string::npos) << report.failed[0];
  EXPECT_EQ(h.events("f-alien-1"), "injected,revert_failed");
  ASSERT_EQ(h.journal->pending().size(), 1u);  // still pending: shown at every start
}

}  // namespace
}  // namespace chaosd
