// The probe runner's schedule: runs it starts on its own carry how late they started after their
// slot (bench/ turns that into the scheduler's start jitter); runs asked for do not.

#include "daemon/probe_runner.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include "probes/registry.h"
#include "tests/support/loop.h"
#include "tests/support/probe_harness.h"
#include "tests/support/redis_server.h"

namespace chaosd {
namespace {
namespace asio = boost::asio;
using test::RedisServer;
using namespace std::chrono_literals;

struct Collected {
  std::vector<ProbeRun> runs;
  std::optional<double> last_run_delay;
};

// Starts a latency probe on `server` with `interval`, lets it run until `wanted` runs are seen
// (or 10 s pass), then stops it. `poke` asks for a run 100 ms after start().
Collected collect_runs(const RedisServer& server, Duration first_delay, Duration interval,
                       size_t wanted, bool poke) {
  asio::io_context io;
  SystemClock clock;
  auto config = test::probe_config("latency", "samples = 1");
  config.interval = interval;
  Collected out;
  ProbeRunner runner(io.get_executor(), config,
                     find_probe_type("latency")->create(config, "probes[0].params"),
                     test::topology_for(server), test::options_for(server), "chaosd", clock,
                     [&](const ProbeRun& run) { out.runs.push_back(run); });
  runner.start(first_delay);
  test::run_on_loop<bool>(io, [&]() -> asio::awaitable<bool> {
    asio::steady_timer wait(co_await asio::this_coro::executor);
    if (poke) {
      // Once the schedule waits for its first slot (a request made before that waits for it).
      wait.expires_after(100ms);
      co_await wait.async_wait(asio::use_awaitable);
      runner.run_soon();
    }
    for (int i = 0; i < 200 && out.runs.size() < wanted; ++i) {
      wait.expires_after(50ms);
      co_await wait.async_wait(asio::use_awaitable);
    }
    if (runner.last_run()) out.last_run_delay = runner.last_run()->start_delay_seconds;
    Status stopped = co_await runner.stop(5s);
    co_return stopped.ok();
  });
  return out;
}

TEST(ProbeRunner, ScheduledRunsReportHowLateTheyStarted) {
  RedisServer server;
  auto collected = collect_runs(server, 0ms, 100ms, 3, false);
  ASSERT_GE(collected.runs.size(), 3u);
  for (const auto& run : collected.runs) {
    EXPECT_TRUE(run.ok) << test::first_error(run);
    ASSERT_TRUE(run.start_delay_seconds.has_value()) << run.probe;
    // A slot is never started early: the timer wakes at or after it.
    EXPECT_GE(*run.start_delay_seconds, 0.0);
  }
  // What /api/v1/probes shows (last_run) carries the same delay as the callback saw.
  ASSERT_TRUE(collected.last_run_delay.has_value());
  EXPECT_GE(*collected.last_run_delay, 0.0);
}

TEST(ProbeRunner, ARunAskedForHasNoScheduleDelay) {
  RedisServer server;
  // The first slot is 10 s away: the only run in time is the one asked for.
  auto collected = collect_runs(server, 10s, 10s, 1, true);
  ASSERT_EQ(collected.runs.size(), 1u);
  EXPECT_TRUE(collected.runs[0].ok) << test::first_error(collected.runs[0]);
  EXPECT_FALSE(collected.runs[0].start_delay_seconds.has_value());
}

}  // namespace
}  // namespace chaosd
