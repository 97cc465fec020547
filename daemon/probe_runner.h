#pragma once
// Runs one probe instance at its interval: never overlapping itself, each run bounded by the
// probe's timeout (the run is cancelled when it expires), results handed to a callback on the
// loop thread. Owns the probe's Redis connection (CLIENT SETNAME redis-chaosd:<probe>).

#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <optional>

#include "config/config.h"
#include "daemon/redis/connection.h"
#include "probes/probe.h"

namespace chaosd {

struct ProbeRun {
  std::string probe;
  std::string type;
  std::string target;
  bool ok = false;
  bool timed_out = false;
  double duration_seconds = 0;
  /// For a run started by the schedule: how late it started after its slot (the scheduler's
  /// start jitter). Empty for runs asked for (run_soon, run_once) rather than scheduled.
  std::optional<double> start_delay_seconds;
  WallTime finished_at{};
  ProbeResult result;
  /// What the run cost, measured by --once when probes run one after the other (nothing else
  /// runs meanwhile): CPU time of the whole process and Redis commands sent. Empty otherwise.
  std::optional<double> cpu_seconds;
  std::optional<uint64_t> redis_commands;
};

class ProbeRunner {
 public:
  using OnRun = std::function<void(const ProbeRun&)>;

  ProbeRunner(boost::asio::any_io_executor executor, ProbeConfig config,
              std::unique_ptr<Probe> probe, const TargetConfig& topology,
              const ConnectionOptions& target, const std::string& key_prefix, const Clock& clock,
              OnRun on_run);
  ~ProbeRunner();

  /// Starts the schedule; the first run is after `first_delay` (staggers probes at start).
  void start(Duration first_delay);
  /// Asks for a run as soon as the current one (if any) ends.
  void run_soon();
  /// Runs the probe once now, outside the schedule (for --once). Do not mix with start().
  boost::asio::awaitable<ProbeRun> run_once();
  /// Stops the schedule (cancelling a run in progress), then deletes the probe's keys. Bounded by
  /// `timeout`. Returns the cleanup status.
  boost::asio::awaitable<Status> stop(Duration timeout);

  const ProbeConfig& config() const { return config_; }
  const TargetConfig& topology() const { return topology_; }
  const std::optional<ProbeRun>& last_run() const { return last_run_; }
  bool running() const { return in_run_; }
  const RedisClient& connection() const { return *redis_; }

 private:
  boost::asio::awaitable<void> loop(Duration first_delay);

  boost::asio::any_io_executor executor_;
  ProbeConfig config_;
  std::unique_ptr<Probe> probe_;
  TargetConfig topology_;
  ConnectionOptions target_;
  std::unique_ptr<RedisClient> redis_;  // a RedisConnection, or a ClusterRedisClient
  ProbeContext context_;
  OnRun on_run_;
  boost::asio::steady_timer wake_;      // the wait for the next run; cancelled by run_soon()
  boost::asio::steady_timer finished_;  // cancelled when the loop coroutine has ended
  boost::asio::cancellation_signal stop_signal_;
  bool started_ = false;
  bool loop_done_ = true;
  bool stopping_ = false;
  bool run_requested_ = false;
  bool in_run_ = false;
  std::optional<ProbeRun> last_run_;
};

}  // namespace chaosd
