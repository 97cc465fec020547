#pragma once
// The daemon: one io_context thread running target monitors, probe runners, the SLA engine and
// metrics; an HTTP server on its own threads reading published snapshots. SIGTERM/SIGINT stop it
// (probes stopped, their keys deleted, exit 0); SIGHUP reloads the config file (a bad file is
// logged and the running config kept).

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chaos/proxy/fault_proxy.h"
#include "config/config.h"
#include "daemon/chaos_service.h"
#include "daemon/http/http_server.h"
#include "daemon/lab/lab.h"
#include "daemon/metrics/metrics.h"
#include "daemon/probe_runner.h"
#include "daemon/sla/sla_engine.h"
#include "daemon/status_snapshot.h"
#include "daemon/target_monitor.h"

namespace chaosd {

struct DaemonOptions {
  std::string config_path;               // re-read on SIGHUP; empty: no reload
  std::optional<std::string> listen;     // --listen overrides daemon.listen
  std::optional<std::string> log_level;  // --log-level overrides daemon.log_level
};

class Daemon final : public DaemonControl {
 public:
  Daemon(Config config, DaemonOptions options);
  ~Daemon() override;

  /// Runs until SIGTERM/SIGINT (or request_stop()). Returns the process exit code.
  int run();
  /// Thread-safe.
  void request_stop();

  // DaemonControl (HTTP threads)
  /// Rebuilt on the loop when something changed since the last one (waits up to 250 ms for it;
  /// a busy or stopped loop gets the last snapshot).
  std::shared_ptr<const StatusSnapshot> snapshot() const override;
  int64_t heartbeat_ms() const override { return snapshots_.heartbeat_ms(); }
  std::string metrics_text() const override { return metrics_.render(); }
  Result<nlohmann::json> run_probe(const std::string& name) override;
  bool chaos_enabled() const override { return chaos_enabled_; }
  bool chaos_token_matches(std::string_view presented) const override;
  ApiReply inject_fault(const nlohmann::json& body, const ApiCaller& caller) override;
  ApiReply revert_fault(const std::string& id, const ApiCaller& caller) override;
  ApiReply halt_chaos(const std::string& reason, const ApiCaller& caller) override;
  ApiReply resume_chaos(const ApiCaller& caller) override;
  ApiReply chaos_heartbeat(const ApiCaller& caller) override;
  ApiReply run_experiment(const std::string& name, const ApiCaller& caller) override;

 private:
  void start_components();
  boost::asio::awaitable<void> stop_components();
  boost::asio::awaitable<void> shutdown(std::string reason);
  Status start_chaos();
  /// Runs `work` on the loop and waits for its reply (bounded): the HTTP thread never touches
  /// loop state, and the loop never waits for an HTTP thread.
  ApiReply call_on_loop(std::function<boost::asio::awaitable<ApiReply>()> work);
  boost::asio::awaitable<void> reload();
  void watch_signals();
  void beat();
  Status start_lab();
  void watch_lab();
  void on_probe_run(const ProbeRun& run);
  void on_target_check(const std::string& target, const TargetHealth& health);
  void publish_snapshot();
  void mark_snapshot_stale() { snapshot_stale_.store(true, std::memory_order_release); }

  Config config_;
  DaemonOptions options_;
  SystemClock clock_;
  boost::asio::io_context io_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer heartbeat_;
  // Set on the loop when a probe run, a target check or the chaos state changed what the
  // snapshot shows; cleared by publish_snapshot(). Read by HTTP threads.
  std::atomic<bool> snapshot_stale_{true};
  boost::asio::io_context::executor_type loop_executor_;  // for HTTP threads: post to the loop
  std::function<void()> rebuild_snapshot_;                // on the loop, when still stale
  Metrics metrics_;
  SlaEngine sla_;
  SnapshotBox snapshots_;
  HttpServer http_;
  FaultProxy proxy_;
  std::unique_ptr<Lab> lab_;
  std::unique_ptr<ChaosService> chaos_;
  const bool chaos_enabled_;  // as at start (a reload does not switch chaos on or off)
  std::string chaos_token_;   // as at start; read by HTTP threads, never changed after run()
  std::vector<std::unique_ptr<TargetMonitor>> monitors_;
  std::vector<std::unique_ptr<ProbeRunner>> runners_;
  WallTime started_at_{};
  bool stopping_ = false;
  bool reloading_ = false;
  int exit_code_ = 0;
};

}  // namespace chaosd
