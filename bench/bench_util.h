#pragma once
// Small helpers shared by the bench programs: statistics, a fault proxy on a thread of its own,
// a blocking reference client, and the Markdown rows the programs print on stdout (bench/run
// gathers them into bench/README.md). Diagnostics go to stderr.

#include <hiredis/hiredis.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "chaos/proxy/fault_proxy.h"
#include "daemon/util/logging.h"

namespace chaosd::bench {

using Clock = std::chrono::steady_clock;

inline double ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

/// The q-quantile (0..1) by nearest rank; 0 for no values.
inline double quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}
inline double median(std::vector<double> values) { return quantile(std::move(values), 0.5); }
inline double max_of(const std::vector<double>& values) {
  return values.empty() ? 0 : *std::max_element(values.begin(), values.end());
}

/// "1.234" style formatting for table cells.
inline std::string cell(double value, int decimals = 3) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

/// One Markdown table row: | a | b | c |
inline void print_row(const std::vector<std::string>& cells) {
  std::string line = "|";
  for (const auto& c : cells) line += " " + c + " |";
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}
inline void print_header(const std::vector<std::string>& cells) {
  print_row(cells);
  std::vector<std::string> rule(cells.size(), "---");
  print_row(rule);
}

/// A FaultProxy running on a thread of its own, so that the delay it injects does not depend on
/// the loop of the client being measured. Every call is posted to that thread and waited for.
class ProxyThread {
 public:
  ProxyThread() : guard_(io_.get_executor()), thread_([this] { io_.run(); }) {
    call([this] { proxy_ = std::make_unique<FaultProxy>(io_.get_executor()); });
  }
  ~ProxyThread() {
    call([this] { proxy_.reset(); });
    guard_.reset();
    io_.stop();
    thread_.join();
  }
  ProxyThread(const ProxyThread&) = delete;
  ProxyThread& operator=(const ProxyThread&) = delete;

  /// A link to `upstream` ("127.0.0.1:6379"); returns the port it listens on.
  uint16_t add_link(const std::string& name, const std::string& upstream) {
    uint16_t port = 0;
    call([&] {
      auto link = proxy_->add_link(name, "127.0.0.1:0", upstream);
      if (!link) throw std::runtime_error(link.error().message);
      port = link.value()->listen_port();
    });
    return port;
  }
  /// Replaces the link's latency toxic (downstream: server -> client); 0 ms removes it.
  void set_latency(const std::string& name, double latency_ms) {
    call([&] {
      (void)proxy_->clear_toxics(name);
      if (latency_ms <= 0) return;
      ToxicSpec spec;
      spec.type = ToxicType::latency;
      spec.name = "bench_latency";
      spec.direction = ToxicDirection::downstream;
      spec.params.latency = std::chrono::duration_cast<Duration>(
          std::chrono::duration<double, std::milli>(latency_ms));
      if (Status s = proxy_->add_toxic(name, spec); !s) throw std::runtime_error(s.error().message);
    });
  }

 private:
  template <class F>
  void call(F f) {
    std::promise<void> done;
    boost::asio::post(io_, [&] {
      try {
        f();
        done.set_value();
      } catch (...) {
        done.set_exception(std::current_exception());
      }
    });
    done.get_future().get();
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
  std::unique_ptr<FaultProxy> proxy_;
};

/// A blocking hiredis connection: the plain client the probes' numbers are compared with.
class BlockingClient {
 public:
  explicit BlockingClient(uint16_t port) {
    timeval timeout{10, 0};
    ctx_ = redisConnectWithTimeout("127.0.0.1", port, timeout);
    if (!ctx_ || ctx_->err) {
      throw std::runtime_error("connect to port " + std::to_string(port) + " failed");
    }
    redisSetTimeout(ctx_, timeout);
  }
  ~BlockingClient() {
    if (ctx_) redisFree(ctx_);
  }
  BlockingClient(const BlockingClient&) = delete;
  BlockingClient& operator=(const BlockingClient&) = delete;

  /// Runs one command (arguments as strings) and returns a string reply's text ("" for any
  /// other reply); throws on a connection error.
  std::string run(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lengths.push_back(a.size());
    }
    auto* reply = static_cast<redisReply*>(
        redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lengths.data()));
    if (!reply) throw std::runtime_error(std::string("redis: ") + ctx_->errstr);
    std::string text = reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS
                           ? std::string(reply->str, reply->len)
                           : std::string();
    freeReplyObject(reply);
    return text;
  }

 private:
  redisContext* ctx_ = nullptr;
};

/// Logs (warnings and worse) to stderr: stdout carries the Markdown tables.
inline void quiet_logs() { setup_logging("warn", LogFormat::text); }

/// True when `flag` is among the arguments.
inline bool has_flag(int argc, char** argv, const std::string& flag) {
  for (int i = 1; i < argc; ++i) {
    if (argv[i] == flag) return true;
  }
  return false;
}

}  // namespace chaosd::bench
