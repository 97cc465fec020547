#include "daemon/probe_runner.h"

#include <spdlog/spdlog.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "daemon/redis/cluster_redis_client.h"
#include "probes/probe_keys.h"

namespace chaosd {
namespace asio = boost::asio;
using std::chrono::steady_clock;

namespace {

ConnectionOptions named(ConnectionOptions options, const std::string& probe) {
  options.client_name = "redis-chaosd:" + probe;
  return options;
}

asio::awaitable<void> expire_after(Duration d) {
  asio::steady_timer timer(co_await asio::this_coro::executor,
                           std::chrono::duration_cast<steady_clock::duration>(d));
  co_await timer.async_wait(asio::use_awaitable);
}

std::unique_ptr<RedisClient> make_client(const asio::any_io_executor& executor,
                                         const TargetConfig& topology,
                                         const ConnectionOptions& options) {
  if (topology.kind == TargetKind::cluster) {
    return std::make_unique<ClusterRedisClient>(executor, topology, options);
  }
  return std::make_unique<RedisConnection>(executor, options);
}

steady_clock::duration to_steady(Duration d) {
  return std::chrono::duration_cast<steady_clock::duration>(d);
}

}  // namespace

ProbeRunner::ProbeRunner(asio::any_io_executor executor, ProbeConfig config,
                         std::unique_ptr<Probe> probe, const TargetConfig& topology,
                         const ConnectionOptions& target, const std::string& key_prefix,
                         const Clock& clock, OnRun on_run)
    : executor_(executor),
      config_(std::move(config)),
      probe_(std::move(probe)),
      topology_(topology),
      target_(named(target, config_.name)),
      redis_(make_client(executor, topology_, target_)),
      context_{
          executor, *redis_, target_, topology_, key_prefix + ":{" + config_.name + "}:", clock},
      on_run_(std::move(on_run)),
      wake_(executor),
      finished_(executor) {}

ProbeRunner::~ProbeRunner() = default;

void ProbeRunner::start(Duration first_delay) {
  started_ = true;
  loop_done_ = false;
  asio::co_spawn(executor_, loop(first_delay),
                 asio::bind_cancellation_slot(stop_signal_.slot(), [this](std::exception_ptr) {
                   loop_done_ = true;
                   finished_.cancel();
                 }));
}

void ProbeRunner::run_soon() {
  run_requested_ = true;
  wake_.cancel();
}

asio::awaitable<void> ProbeRunner::loop(Duration first_delay) {
  auto next = steady_clock::now() + to_steady(first_delay);
  while (!stopping_) {
    wake_.expires_at(next);
    boost::system::error_code ec;
    co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopping_) break;
    if (ec && !run_requested_) continue;  // spurious wake: wait again for the same slot
    std::optional<double> start_delay;
    if (!ec) start_delay = seconds_between(next, steady_clock::now());
    run_requested_ = false;
    ProbeRun run = co_await run_once();
    run.start_delay_seconds = start_delay;
    if (last_run_) last_run_->start_delay_seconds = start_delay;
    on_run_(run);
    // Runs never overlap: the next slot is after this run, skipping slots it overran.
    next += to_steady(config_.interval);
    auto now = steady_clock::now();
    while (next <= now) next += to_steady(config_.interval);
    // A run asked for while this one ran happens now rather than at the next slot.
    if (run_requested_) next = now;
  }
}

asio::awaitable<ProbeRun> ProbeRunner::run_once() {
  using namespace asio::experimental::awaitable_operators;
  ProbeRun run;
  run.probe = config_.name;
  run.type = config_.type;
  run.target = config_.target;
  in_run_ = true;
  auto started = steady_clock::now();
  try {
    auto outcome = co_await (probe_->run(context_) || expire_after(config_.timeout));
    if (outcome.index() == 0) {
      run.result = std::move(std::get<0>(outcome));
    } else {
      run.timed_out = true;
      run.result.errors.push_back("run timed out after " + format_duration(config_.timeout));
    }
  } catch (const std::exception& e) {
    // Probes report failures as values; an exception here is cancellation (stop) or a bug.
    run.result.errors.push_back(std::string("run aborted: ") + e.what());
  }
  in_run_ = false;
  run.duration_seconds = seconds_between(started, steady_clock::now());
  run.finished_at = std::chrono::system_clock::now();
  run.ok = run.result.ok();
  last_run_ = run;
  co_return run;
}

asio::awaitable<Status> ProbeRunner::stop(Duration timeout) {
  using namespace asio::experimental::awaitable_operators;
  stopping_ = true;
  auto deadline = steady_clock::now() + to_steady(timeout);
  if (started_ && !loop_done_) {
    wake_.cancel();
    stop_signal_.emit(asio::cancellation_type::terminal);
    finished_.expires_at(deadline);
    boost::system::error_code ignored;
    while (!loop_done_ && steady_clock::now() < deadline) {
      co_await finished_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
    if (!loop_done_) co_return Error{ErrorCode::timeout, "probe did not stop in time"};
  }
  auto remaining = deadline - steady_clock::now();
  if (remaining < std::chrono::milliseconds(100)) remaining = std::chrono::milliseconds(100);
  try {
    auto outcome = co_await (probe_->cleanup(context_) || expire_after(remaining));
    if (outcome.index() == 1) co_return Error{ErrorCode::timeout, "key cleanup timed out"};
    co_return std::get<0>(outcome);
  } catch (const std::exception& e) {
    co_return Error{ErrorCode::internal, std::string("key cleanup failed: ") + e.what()};
  }
}

}  // namespace chaosd
