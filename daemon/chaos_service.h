#pragma once
// The chaos engine inside the daemon (DESIGN.md §6, docs/chaos.md): the fault journal under
// daemon.state_dir, the FaultSupervisor, a NodeSupervisor over the lab, the dead-man switch, the
// chaos metrics and the handlers behind the chaos HTTP API.
//
//   ChaosService chaos(executor, config, lab, proxy, metrics);
//   chaos.open();                        // journal + flock; before anything else
//   co_await chaos.reconcile();          // revert what a previous run left behind
//   auto reply = co_await chaos.inject(body, caller);   // POST /api/v1/faults
//   co_await chaos.halt_for_shutdown();  // SIGTERM/SIGINT: revert everything
//
// Thread-safety: none; every call on the loop thread. The daemon posts HTTP calls to the loop.
// `config`, `lab`, `proxy` and `metrics` must outlive the service (the daemon owns them all).

#include <array>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "chaos/fault_supervisor.h"
#include "chaos/journal.h"
#include "config/config.h"
#include "daemon/http/http_server.h"
#include "daemon/metrics/metrics.h"
#include "daemon/run_history.h"
#include "daemon/sla/sla_engine.h"

namespace chaosd {

class Lab;
class FaultProxy;

class ChaosService {
 public:
  /// Experiment runs listed by the API (kept across restarts in <state_dir>/chaos/runs.jsonl).
  static constexpr size_t kRecentRuns = 50;

  ChaosService(boost::asio::any_io_executor executor, const Config& config, Lab* lab,
               FaultProxy* proxy, Metrics& metrics, const SlaEngine& sla);
  ~ChaosService();
  ChaosService(const ChaosService&) = delete;
  ChaosService& operator=(const ChaosService&) = delete;

  /// Opens the journal (and takes its lock) when chaos is enabled, or when the journal of an
  /// earlier run has pending faults (they are reverted even with chaos now disabled). Errors are
  /// fatal: another daemon holds the state_dir, or it is not writable.
  Status open();
  /// Reverts every fault the journal has as pending; logs each. Call once, before probes start.
  boost::asio::awaitable<void> reconcile();

  boost::asio::awaitable<ApiReply> inject(nlohmann::json body, ApiCaller caller);
  boost::asio::awaitable<ApiReply> revert(std::string id, ApiCaller caller);
  boost::asio::awaitable<ApiReply> halt(std::string reason, ApiCaller caller);
  ApiReply resume(const ApiCaller& caller);
  ApiReply heartbeat(const ApiCaller& caller);
  /// SIGTERM/SIGINT: halts and reverts every fault before the daemon exits.
  boost::asio::awaitable<void> halt_for_shutdown(std::string reason);

  /// Starts the interval triggers of [[experiments]] (after reconcile).
  void start_experiments();
  /// POST /api/v1/experiments/{name}/run: 202 with the run id; the run goes on in the background.
  ApiReply run_experiment(const std::string& name, const ApiCaller& caller);

  /// Every second from the daemon's beat: the dead-man switch and the fault_active gauges.
  void tick();
  /// The ids of the faults injected on `target` and not yet reverted ("f-1,f-2"), "" for none:
  /// SLA events judged meanwhile are labelled with them.
  std::string active_fault_ids(const std::string& target) const;
  /// {"enabled","halted","halt_reason","active":[...],"recent":[...],...} for GET /api/v1/faults.
  nlohmann::json status_json() const;
  /// Called after every change (the daemon republishes its snapshot).
  void on_change(std::function<void()> callback) { changed_ = std::move(callback); }

 private:
  class LabNodes;
  struct Run;
  std::shared_ptr<Run> start_run(const ExperimentConfig& experiment, const std::string& trigger);
  boost::asio::awaitable<void> execute(std::shared_ptr<Run> run);
  boost::asio::awaitable<void> trigger_loop(std::string name, Duration interval);
  /// trigger = "daily": one run per occurrence of the experiment's window.
  boost::asio::awaitable<void> daily_loop(std::string name);
  /// A run of this experiment started at or after `since` (this process's or an earlier one's).
  bool ran_since(const std::string& name, WallTime since) const;
  /// Per relevant SLA: met now, and good/bad event totals.
  nlohmann::json sla_verdicts(const ExperimentConfig& experiment) const;
  /// Every watched SLA that was met before the run is met again, with a good last event.
  bool all_met(const ExperimentConfig& experiment, const nlohmann::json& before) const;
  std::string breached(const ExperimentConfig& experiment) const;
  const ExperimentConfig* find_experiment(const std::string& name) const;
  /// Adds "experiments" and "runs" to status_json()'s object.
  void experiments_json(nlohmann::json& out) const;
  Result<FaultContext> context_for(const TargetConfig& target, const std::string& node) const;
  Result<FaultContext> context_for_record(const JournalEntry& entry) const;
  void on_journal(const JournalEntry& entry);
  void update_metrics();
  void notify() const;
  boost::asio::awaitable<void> check_deadman();

  boost::asio::any_io_executor executor_;
  const Config& config_;
  const ChaosConfig chaos_;  // as at start: a reload does not switch chaos on or off
  Lab* lab_;
  FaultProxy* proxy_;
  Metrics& metrics_;
  std::unique_ptr<LabNodes> lab_nodes_;
  // node_kill on external targets with a restart_command, by target name (as at start)
  std::map<std::string, std::unique_ptr<NodeSupervisor>> external_nodes_;
  std::unique_ptr<FaultJournal> journal_;
  std::unique_ptr<FaultSupervisor> supervisor_;
  bool ready_ = false;    // reconcile done
  bool halting_ = false;  // a dead-man halt is under way
  std::chrono::steady_clock::time_point last_heartbeat_;
  std::deque<nlohmann::json> recent_;  // newest first
  // id -> fault, target, experiment: the labels of its chaos_fault_active series
  std::map<std::string, std::array<std::string, 3>> active_series_;
  std::function<void()> changed_;
  const SlaEngine& sla_;
  const std::vector<ExperimentConfig> experiments_;      // as at start, like chaos_
  std::map<std::string, std::shared_ptr<Run>> running_;  // experiment -> its run in progress
  std::deque<std::shared_ptr<Run>> runs_;                // newest first, bounded
  std::unique_ptr<RunHistory> history_;                  // finished runs of this and earlier runs
  std::vector<nlohmann::json> past_runs_;                // from history_ at start, newest first
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

/// Checks what the loader cannot: each experiment's fault type and params (through the fault
/// registry) and its abort_on SLA names (defaults included). Throws ConfigError.
void validate_experiments(const Config& config);

}  // namespace chaosd
