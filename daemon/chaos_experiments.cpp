// The experiments of the chaos engine ([[experiments]], docs/chaos.md#run-an-experiment): interval
// triggers, runs with SLA verdicts before/during/after, and their validation at load.

#include <spdlog/spdlog.h>
#include <toml++/toml.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <sstream>

#include "chaos/registry.h"
#include "daemon/chaos_service.h"
#include "daemon/sla_rules.h"
#include "daemon/util/time_format.h"

namespace chaosd {

namespace asio = boost::asio;
using nlohmann::json;
using std::chrono::steady_clock;

namespace {

ApiReply error_reply(int status, std::string message) {
  return ApiReply{status, json{{"error", std::move(message)}}};
}

}  // namespace

struct ChaosService::Run {
  std::string id;
  std::string experiment;
  std::string trigger;            // "interval", "api (<caller>)"
  std::string state = "pending";  // injecting, active, reverting, succeeded, aborted, failed
  std::string fault_id;
  std::string error;
  std::string abort_reason;
  bool dry_run = false;
  WallTime started_at{};
  WallTime injected_at{};
  WallTime reverted_at{};
  WallTime finished_at{};
  std::optional<double> recovery_seconds;
  json before = json::object();
  json during = json::object();
  json after = json::object();

  json to_json() const {
    auto time = [](WallTime t) { return t == WallTime{} ? json(nullptr) : json(iso8601(t)); };
    return {{"id", id},
            {"experiment", experiment},
            {"trigger", trigger},
            {"state", state},
            {"fault_id", fault_id},
            {"dry_run", dry_run},
            {"error", error},
            {"abort_reason", abort_reason},
            {"started_at", time(started_at)},
            {"injected_at", time(injected_at)},
            {"reverted_at", time(reverted_at)},
            {"finished_at", time(finished_at)},
            {"recovery_seconds", recovery_seconds ? json(*recovery_seconds) : json(nullptr)},
            {"slas", {{"before", before}, {"during", during}, {"after", after}}}};
  }
};

void ChaosService::experiments_json(json& out) const {
  out["experiments"] = json::array();
  for (const auto& experiment : experiments_) {
    std::ostringstream params;
    params << toml::json_formatter(experiment.params);
    json item = {
        {"name", experiment.name},
        {"fault", experiment.fault},
        {"target", experiment.target},
        {"node", experiment.node},
        {"duration", format_duration(experiment.duration)},
        {"trigger", experiment.trigger()},
        {"interval",
         experiment.interval ? json(format_duration(*experiment.interval)) : json(nullptr)},
        {"window", experiment.window ? json(experiment.window->to_string()) : json(nullptr)},
        {"abort_on", experiment.abort_on},
        {"dry_run", experiment.dry_run},
        {"params", json::parse(params.str(), nullptr, false)},
        {"running", running_.contains(experiment.name)},
        {"last_run", nullptr}};
    for (const auto& run : runs_) {
      if (run->experiment == experiment.name) {
        item["last_run"] = run->to_json();
        break;
      }
    }
    for (const auto& run : past_runs_) {
      if (!item["last_run"].is_null()) break;
      if (run.value("experiment", "") == experiment.name) item["last_run"] = run;
    }
    out["experiments"].push_back(item);
  }
  // This process's runs, then those of earlier ones (from the history file), newest first.
  out["runs"] = json::array();
  for (const auto& run : runs_) out["runs"].push_back(run->to_json());
  for (const auto& run : past_runs_) {
    if (out["runs"].size() >= kRecentRuns) break;
    out["runs"].push_back(run);
  }
}

const ExperimentConfig* ChaosService::find_experiment(const std::string& name) const {
  for (const auto& experiment : experiments_) {
    if (experiment.name == name) return &experiment;
  }
  return nullptr;
}

namespace {
// The SLAs an experiment watches: its abort_on list, else every SLA of its target.
bool watched(const ExperimentConfig& experiment, const SlaRule& rule) {
  if (!experiment.abort_on.empty()) {
    return std::find(experiment.abort_on.begin(), experiment.abort_on.end(), rule.name) !=
           experiment.abort_on.end();
  }
  return rule.target == experiment.target;
}
}  // namespace

json ChaosService::sla_verdicts(const ExperimentConfig& experiment) const {
  json out = json::object();
  for (const auto& status : sla_.snapshot()) {
    if (!watched(experiment, status.rule)) continue;
    out[status.rule.name] = {{"met", status.met},
                             {"good_total", status.good_total},
                             {"bad_total", status.bad_total},
                             {"last_good", status.last_good}};
  }
  return out;
}

std::string ChaosService::breached(const ExperimentConfig& experiment) const {
  if (experiment.abort_on.empty()) return "";
  for (const auto& status : sla_.snapshot()) {
    if (watched(experiment, status.rule) && !status.met) return status.rule.name;
  }
  return "";
}

bool ChaosService::all_met(const ExperimentConfig& experiment, const json& before) const {
  for (const auto& status : sla_.snapshot()) {
    if (!watched(experiment, status.rule)) continue;
    // An SLA that was breached before the run cannot tell whether the target recovered.
    auto was = before.find(status.rule.name);
    if (was != before.end() && !was->value("met", true)) continue;
    if (!status.met || !status.last_good) return false;
  }
  return true;
}

void ChaosService::start_experiments() {
  if (!chaos_.enabled || !supervisor_) return;
  for (const auto& experiment : experiments_) {
    if (experiment.daily) {
      spdlog::info("chaos: experiment {} once a day within {} UTC ({} on {} for {}{})",
                   experiment.name, experiment.window->to_string(), experiment.fault,
                   experiment.target, format_duration(experiment.duration),
                   experiment.dry_run ? ", dry run" : "");
      asio::co_spawn(executor_, daily_loop(experiment.name), asio::detached);
      continue;
    }
    if (!experiment.interval) continue;
    spdlog::info("chaos: experiment {} every {}{} ({} on {} for {}{})", experiment.name,
                 format_duration(*experiment.interval),
                 experiment.window ? " within " + experiment.window->to_string() + " UTC" : "",
                 experiment.fault, experiment.target, format_duration(experiment.duration),
                 experiment.dry_run ? ", dry run" : "");
    asio::co_spawn(executor_, trigger_loop(experiment.name, *experiment.interval), asio::detached);
  }
}

asio::awaitable<void> ChaosService::trigger_loop(std::string name, Duration interval) {
  auto alive = alive_;
  asio::steady_timer timer(executor_);
  while (*alive) {
    timer.expires_after(interval);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!*alive) co_return;
    const ExperimentConfig* experiment = find_experiment(name);
    if (experiment == nullptr || supervisor_->halted() || running_.contains(name)) continue;
    if (experiment->window && !experiment->window->contains(std::chrono::system_clock::now())) {
      continue;  // outside its daily window
    }
    start_run(*experiment, "interval");
  }
}

bool ChaosService::ran_since(const std::string& name, WallTime since) const {
  for (const auto& run : runs_) {
    if (run->experiment == name && run->started_at >= since) return true;
  }
  // ISO 8601 UTC times with a fixed format compare as strings.
  const std::string since_text = iso8601(since);
  for (const auto& run : past_runs_) {
    if (run.value("experiment", "") == name && run.value("started_at", "") >= since_text) {
      return true;
    }
  }
  return false;
}

asio::awaitable<void> ChaosService::daily_loop(std::string name) {
  // Polls: a wall-clock window survives clock steps and suspends that a long timer would not.
  constexpr auto kPoll = std::chrono::seconds(15);
  auto alive = alive_;
  asio::steady_timer timer(executor_);
  while (*alive) {
    const auto now = std::chrono::system_clock::now();
    const ExperimentConfig* experiment = find_experiment(name);
    if (experiment != nullptr && experiment->window && experiment->window->contains(now) &&
        !supervisor_->halted() && !running_.contains(name) &&
        !ran_since(name, experiment->window->opened_at(now))) {
      start_run(*experiment, "daily");  // once per occurrence of the window, also over restarts
    }
    timer.expires_after(kPoll);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

ApiReply ChaosService::run_experiment(const std::string& name, const ApiCaller& caller) {
  if (!chaos_.enabled || !supervisor_) return error_reply(403, "chaos is disabled");
  if (!ready_) return error_reply(503, "chaos is starting (reconcile under way); retry");
  const ExperimentConfig* experiment = find_experiment(name);
  if (experiment == nullptr) return error_reply(404, "no experiment named \"" + name + "\"");
  if (supervisor_->halted()) {
    return error_reply(409, "chaos is halted: " + supervisor_->halt_reason());
  }
  if (auto it = running_.find(name); it != running_.end()) {
    return error_reply(409,
                       "experiment " + name + " is running already (run " + it->second->id + ")");
  }
  auto run = start_run(*experiment, "api (" + caller.remote + ")");
  spdlog::info("audit: POST /api/v1/experiments/{}/run accepted: run={} fault={} target={} from {}",
               name, run->id, experiment->fault, experiment->target, caller.remote);
  return ApiReply{202, run->to_json()};
}

std::shared_ptr<ChaosService::Run> ChaosService::start_run(const ExperimentConfig& experiment,
                                                           const std::string& trigger) {
  auto run = std::make_shared<Run>();
  run->id = "r" + new_fault_id().substr(1);  // "r-<ms>-<hex>"
  run->experiment = experiment.name;
  run->trigger = trigger;
  run->dry_run = experiment.dry_run;
  run->started_at = std::chrono::system_clock::now();
  running_[experiment.name] = run;
  runs_.push_front(run);
  if (runs_.size() > kRecentRuns) runs_.pop_back();
  asio::co_spawn(executor_, execute(run), asio::detached);
  notify();
  return run;
}

asio::awaitable<void> ChaosService::execute(std::shared_ptr<Run> run) {
  auto alive = alive_;
  const ExperimentConfig* found = find_experiment(run->experiment);
  if (found == nullptr) co_return;
  const ExperimentConfig& experiment = *found;
  auto finish = [&](const std::string& state) {
    run->state = state;
    run->finished_at = std::chrono::system_clock::now();
    running_.erase(run->experiment);
    metrics_.record_experiment_run(run->experiment, state);
    if (history_) {
      auto kept = history_->append(run->to_json());
      if (!kept)
        spdlog::warn("chaos: run {} not kept in the history: {}", run->id, kept.error().message);
    }
    spdlog::info("chaos: experiment {} run {} {}{}", run->experiment, run->id, state,
                 run->error.empty() ? "" : ": " + run->error);
    notify();
  };
  run->before = sla_verdicts(experiment);
  if (experiment.dry_run) {
    run->error = "dry run: nothing injected";
    finish("succeeded");
    co_return;
  }
  run->state = "injecting";
  notify();
  std::unique_ptr<Fault> fault;
  try {
    fault = find_fault_type(experiment.fault)
                ->create(experiment.params, "experiments." + experiment.name + ".params",
                         experiment.where.file);
  } catch (const std::exception& e) {
    run->error = e.what();
    finish("failed");
    co_return;
  }
  const TargetConfig* target = config_.find_target(experiment.target);
  if (target == nullptr) {
    run->error = "target " + experiment.target + " is gone from the config";
    finish("failed");
    co_return;
  }
  // Checked against the running config: a reload may have taken chaos_allowed away since the
  // experiment was loaded.
  if (!target->chaos_allowed) {
    run->error = "target " + experiment.target + " is not chaos_allowed";
    finish("failed");
    co_return;
  }
  auto context = context_for(*target, experiment.node);
  if (!context) {
    run->error = context.error().message;
    finish("failed");
    co_return;
  }
  FaultRequest request{.fault = std::move(fault),
                       .context = std::move(context.value()),
                       .duration = experiment.duration,
                       .experiment = experiment.name};
  Result<std::string> id = co_await supervisor_->inject(std::move(request));
  if (!*alive) co_return;
  if (!id) {
    if (id.error().code != ErrorCode::conflict && id.error().code != ErrorCode::invalid_argument) {
      metrics_.record_injection(experiment.fault, false);
    }
    run->error = id.error().message;
    finish("failed");
    co_return;
  }
  metrics_.record_injection(experiment.fault, true);
  update_metrics();
  run->fault_id = id.value();
  run->state = "active";
  run->injected_at = std::chrono::system_clock::now();
  const json at_inject = sla_verdicts(experiment);
  notify();

  // Watch until the fault is gone (its deadline, a DELETE, a halt) or an abort_on SLA breaches.
  // Bounded: a revert that keeps failing is the watchdog's to retry; the run gives up on it.
  asio::steady_timer tick(executor_);
  const auto give_up = steady_clock::now() + experiment.duration + std::chrono::minutes(5);
  bool gone = false;
  while (steady_clock::now() < give_up) {
    gone = true;
    for (const auto& info : supervisor_->active()) {
      if (info.id == run->fault_id) {
        gone = false;
        if (info.phase == FaultPhase::reverting) run->state = "reverting";
      }
    }
    if (gone) break;
    if (std::string sla = breached(experiment); !sla.empty() && run->abort_reason.empty()) {
      run->abort_reason = "SLA " + sla + " breached";
      run->state = "reverting";
      spdlog::warn("chaos: experiment {} run {}: {}; reverting fault {}", run->experiment, run->id,
                   run->abort_reason, run->fault_id);
      const std::string reason = "abort: " + run->abort_reason;
      (void)co_await supervisor_->revert(run->fault_id, reason);
      if (!*alive) co_return;
      continue;
    }
    tick.expires_after(std::chrono::milliseconds(200));
    boost::system::error_code ec;
    co_await tick.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!*alive) co_return;
  }
  run->reverted_at = std::chrono::system_clock::now();
  // During: the verdicts when the fault went, with the events judged while it was on.
  run->during = sla_verdicts(experiment);
  for (auto& [name, verdict] : run->during.items()) {
    if (!at_inject.contains(name)) continue;
    verdict["good"] =
        verdict["good_total"].get<uint64_t>() - at_inject[name]["good_total"].get<uint64_t>();
    verdict["bad"] =
        verdict["bad_total"].get<uint64_t>() - at_inject[name]["bad_total"].get<uint64_t>();
  }
  if (!gone) {
    run->error = "fault " + run->fault_id + " was not reverted in time (the watchdog retries it)";
    finish("failed");
    co_return;
  }
  // After: how long until every watched SLA is met again with a good last event (bounded).
  const auto recovery_limit = steady_clock::now() + std::chrono::seconds(60);
  const auto reverted = steady_clock::now();
  while (!all_met(experiment, run->before) && steady_clock::now() < recovery_limit) {
    tick.expires_after(std::chrono::milliseconds(200));
    boost::system::error_code ec;
    co_await tick.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!*alive) co_return;
  }
  if (all_met(experiment, run->before)) {
    run->recovery_seconds = to_seconds(steady_clock::now() - reverted);
  }
  run->after = sla_verdicts(experiment);
  finish(run->abort_reason.empty() ? "succeeded" : "aborted");
}

void validate_experiments(const Config& config) {
  std::vector<SlaRule> rules = build_sla_rules(config);
  for (size_t i = 0; i < config.experiments.size(); ++i) {
    const ExperimentConfig& experiment = config.experiments[i];
    const std::string path = "experiments[" + std::to_string(i) + "]";
    const FaultType* type = find_fault_type(experiment.fault);
    if (type == nullptr) {
      throw ConfigError(
          experiment.where, path + ".fault",
          "unknown fault \"" + experiment.fault + "\"; known faults: " + fault_type_names());
    }
    (void)type->create(experiment.params, path + ".params", experiment.where.file);
    if (experiment.fault == "node_kill") {
      const TargetConfig* target = config.find_target(experiment.target);
      if (target != nullptr && !target->lab && target->restart_command.empty()) {
        throw ConfigError(experiment.where, path + ".fault",
                          "node_kill on target \"" + target->name +
                              "\" needs a restart_command in its [[targets]] table (without one "
                              "the node could not be brought back)");
      }
    }
    for (const auto& name : experiment.abort_on) {
      bool known = std::any_of(rules.begin(), rules.end(),
                               [&](const SlaRule& rule) { return rule.name == name; });
      if (!known) {
        std::vector<std::string> names;
        for (const auto& rule : rules) names.push_back(rule.name);
        std::string list;
        for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
        throw ConfigError(experiment.where, path + ".abort_on",
                          "no SLA named \"" + name + "\"; SLAs: " + list);
      }
    }
  }
}

}  // namespace chaosd
