#include "daemon/target_monitor.h"

#include "daemon/redis/info.h"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

namespace chaosd {
namespace asio = boost::asio;
using std::chrono::steady_clock;

TargetMonitor::TargetMonitor(asio::any_io_executor executor, const TargetConfig& target,
                             ConnectionOptions options, Duration interval, OnCheck on_check)
    : target_(target),
      redis_(executor, std::move(options)),
      interval_(interval),
      on_check_(std::move(on_check)),
      timer_(executor),
      done_(executor) {}

void TargetMonitor::start() {
  loop_done_ = false;
  asio::co_spawn(timer_.get_executor(), loop(),
                 asio::bind_cancellation_slot(stop_signal_.slot(), [this](std::exception_ptr) {
                   loop_done_ = true;
                   done_.cancel();
                 }));
}

asio::awaitable<void> TargetMonitor::stop() {
  stopping_ = true;
  if (loop_done_) co_return;
  timer_.cancel();
  stop_signal_.emit(asio::cancellation_type::terminal);
  done_.expires_after(std::chrono::seconds(5));
  boost::system::error_code ignored;
  while (!loop_done_) {
    co_await done_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    if (done_.expiry() <= steady_clock::now()) break;
  }
}

asio::awaitable<void> TargetMonitor::loop() {
  while (!stopping_) {
    co_await check();
    if (stopping_) break;
    timer_.expires_after(std::chrono::duration_cast<steady_clock::duration>(interval_));
    boost::system::error_code ec;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<void> TargetMonitor::check() {
  bool was_up = health_.up;
  auto started = steady_clock::now();
  auto pong = co_await redis_.call("PING");
  health_.checked = true;
  health_.last_check = std::chrono::system_clock::now();
  health_.up = pong.ok();
  if (pong) {
    health_.ping_seconds = std::chrono::duration<double>(steady_clock::now() - started).count();
    health_.last_error.clear();
    // Role and version change rarely: refresh them every tenth check and after a reconnect.
    if (checks_++ % 10 == 0 || redis_.reconnects() != health_.connects) {
      health_.connects = redis_.reconnects();
      auto info = co_await redis_.call("INFO", "server");
      if (info) health_.redis_version = info_field(info.value().str(), "redis_version");
      auto replication = co_await redis_.call("INFO", "replication");
      if (replication) health_.role = info_field(replication.value().str(), "role");
    }
  } else {
    health_.last_error = pong.error().describe();
  }
  if (was_up != health_.up) {
    if (health_.up) {
      spdlog::info("target {} is up ({}:{})", target_.name, target_.host, target_.port);
    } else {
      spdlog::warn("target {} is down: {}", target_.name, health_.last_error);
    }
  }
  on_check_(target_.name, health_);
}

}  // namespace chaosd
