#include "daemon/daemon.h"

#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <random>

#include "build_info.h"
#include "config/loader.h"
#include "daemon/sla_rules.h"
#include "daemon/status_json.h"
#include "daemon/target_connection.h"
#include "daemon/target_proxies.h"
#include "daemon/util/logging.h"
#include "daemon/util/time_format.h"
#include "probes/registry.h"

namespace chaosd {
namespace asio = boost::asio;
using std::chrono::steady_clock;

Daemon::Daemon(Config config, DaemonOptions options)
    : config_(std::move(config)),
      options_(std::move(options)),
      signals_(io_, SIGINT, SIGTERM, SIGHUP),
      heartbeat_(io_),
      loop_executor_(io_.get_executor()),
      rebuild_snapshot_([this] {
        if (snapshot_stale_.load(std::memory_order_acquire)) publish_snapshot();
      }),
      sla_(clock_),
      http_(*this),
      proxy_(io_.get_executor()),
      chaos_enabled_(config_.chaos.enabled),
      chaos_token_(config_.chaos.token) {
  if (chaos_enabled_ && chaos_token_.empty()) {
    // Only the lab gets here (the loader refuses other chaos configs without a token).
    std::random_device random;
    static const char* kHex = "0123456789abcdef";
    for (int i = 0; i < 32; ++i) chaos_token_ += kHex[random() % 16];
    spdlog::warn(
        "chaos: no token configured ([chaos] token_file or {}); generated one for this run: {}",
        kChaosTokenEnv, chaos_token_);
  }
}

Daemon::~Daemon() { http_.stop(); }

int Daemon::run() {
  started_at_ = clock_.wall_now();
  std::string listen = options_.listen.value_or(config_.daemon.listen);
  Status listening = http_.start(listen);
  if (!listening) {
    spdlog::error("{}", listening.error().message);
    return 1;
  }
  spdlog::info("redis-chaosd {} serving http on {} (port {}): /, /metrics, /status", kVersion,
               listen, http_.port());
  if (Status lab = start_lab(); !lab) {
    spdlog::error("{}", lab.error().message);
    http_.stop();
    return 1;
  }
  if (Status fronted = front_targets(proxy_, config_); !fronted) {
    spdlog::error("{}", fronted.error().message);
    http_.stop();
    if (lab_) lab_->stop();
    return 1;
  }
  if (Status chaos = start_chaos(); !chaos) {
    spdlog::error("{}", chaos.error().message);
    http_.stop();
    chaos_.reset();
    if (lab_) lab_->stop();
    return 1;
  }
  start_components();
  chaos_->start_experiments();
  watch_signals();
  beat();
  io_.restart();
  io_.run();
  http_.stop();
  chaos_.reset();  // before the lab and the proxy it may point at
  proxy_.stop();
  if (lab_) {
    lab_->stop();
    spdlog::info("lab stopped");
  }
  spdlog::info("redis-chaosd stopped");
  return exit_code_;
}

Status Daemon::start_lab() {
  if (!config_.lab.enabled) return Ok{};
  spdlog::info("lab: starting {} under {}", fmt::join(config_.lab.topologies, ", "),
               config_.daemon.state_dir);
  lab_ = std::make_unique<Lab>(config_.lab, config_.daemon.state_dir);
  // The proxy lives on the loop, which does not run yet: let it relay while the lab waits.
  Status started = lab_->start(&proxy_, [this] {
    io_.restart();
    io_.poll();
  });
  if (!started) return started;
  lab_->apply_to(config_);
  return Ok{};
}

// The journal, then reconcile, before any probe starts: a fault left behind by a crashed run is
// reverted before anything is measured.
Status Daemon::start_chaos() {
  chaos_ = std::make_unique<ChaosService>(io_.get_executor(), config_, lab_.get(), &proxy_,
                                          metrics_, sla_);
  chaos_->on_change([this] { mark_snapshot_stale(); });
  if (Status opened = chaos_->open(); !opened) return opened;
  auto done = std::make_shared<bool>(false);
  asio::co_spawn(io_, chaos_->reconcile(), [done](std::exception_ptr) { *done = true; });
  const auto limit = steady_clock::now() + std::chrono::minutes(2);
  io_.restart();
  while (!*done && steady_clock::now() < limit) {
    io_.run_one_for(std::chrono::milliseconds(100));
    if (io_.stopped()) io_.restart();
  }
  if (!*done) return Error{ErrorCode::timeout, "chaos: reconcile did not finish within 2 min"};
  return Ok{};
}

bool Daemon::chaos_token_matches(std::string_view presented) const {
  return chaos_enabled_ && !chaos_token_.empty() && constant_time_equals(presented, chaos_token_);
}

ApiReply Daemon::call_on_loop(std::function<asio::awaitable<ApiReply>()> work) {
  auto promise = std::make_shared<std::promise<ApiReply>>();
  auto future = promise->get_future();
  asio::post(io_, [this, work = std::move(work), promise] {
    if (stopping_ || !chaos_) {
      promise->set_value(ApiReply{503, {{"error", "the daemon is starting or stopping"}}});
      return;
    }
    asio::co_spawn(io_, work(), [promise](std::exception_ptr error, ApiReply reply) {
      if (error) reply = ApiReply{500, {{"error", "internal error in a chaos call"}}};
      promise->set_value(std::move(reply));
    });
  });
  // Generous: a halt waits for every revert, each bounded by its own timeouts.
  if (future.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    return ApiReply{503, {{"error", "the daemon did not answer in time; the call may still run"}}};
  }
  try {
    return future.get();
  } catch (const std::exception&) {  // the loop stopped before it answered
    return ApiReply{503, {{"error", "the daemon stopped before it answered"}}};
  }
}

ApiReply Daemon::inject_fault(const nlohmann::json& body, const ApiCaller& caller) {
  return call_on_loop([this, body, caller] { return chaos_->inject(body, caller); });
}

ApiReply Daemon::revert_fault(const std::string& id, const ApiCaller& caller) {
  return call_on_loop([this, id, caller] { return chaos_->revert(id, caller); });
}

ApiReply Daemon::halt_chaos(const std::string& reason, const ApiCaller& caller) {
  return call_on_loop([this, reason, caller] { return chaos_->halt(reason, caller); });
}

namespace {
asio::awaitable<ApiReply> ready(ApiReply reply) { co_return reply; }
}  // namespace

ApiReply Daemon::resume_chaos(const ApiCaller& caller) {
  return call_on_loop([this, caller] { return ready(chaos_->resume(caller)); });
}

ApiReply Daemon::run_experiment(const std::string& name, const ApiCaller& caller) {
  return call_on_loop([this, name, caller] { return ready(chaos_->run_experiment(name, caller)); });
}

ApiReply Daemon::chaos_heartbeat(const ApiCaller& caller) {
  return call_on_loop([this, caller] { return ready(chaos_->heartbeat(caller)); });
}

void Daemon::watch_lab() {
  if (!lab_) return;
  for (const auto& name : lab_->reap_deaths()) spdlog::warn("lab: {} died", name);
}

void Daemon::request_stop() {
  asio::post(io_, [this] {
    if (!stopping_) asio::co_spawn(io_, shutdown("stop requested"), asio::detached);
  });
}

void Daemon::start_components() {
  for (const auto& target : config_.targets) {
    metrics_.add_target(target.name);
    auto options = connection_options(target);
    options.client_name = "redis-chaosd:health";
    monitors_.push_back(std::make_unique<TargetMonitor>(
        io_.get_executor(), target, options, std::chrono::seconds(1),
        [this](const std::string& name, const TargetHealth& health) {
          on_target_check(name, health);
        }));
    monitors_.back()->start();
  }
  auto rules = build_sla_rules(config_);
  sla_.set_rules(rules);
  metrics_.retain_slas(rules);
  int index = 0;
  for (size_t i = 0; i < config_.probes.size(); ++i) {
    const auto& probe = config_.probes[i];
    if (!probe.enabled) continue;
    const ProbeType* type = find_probe_type(probe.type);
    const TargetConfig* target = config_.find_target(probe.target);
    if (type == nullptr || target == nullptr) continue;  // the loader already refused these
    auto instance = type->create(probe, "probes[" + std::to_string(i) + "].params");
    metrics_.add_probe(probe.name, probe.type, probe.target);
    runners_.push_back(std::make_unique<ProbeRunner>(
        io_.get_executor(), probe, std::move(instance), *target, connection_options(*target),
        config_.daemon.key_prefix, clock_, [this](const ProbeRun& run) { on_probe_run(run); }));
    // Stagger first runs so that probes do not all hit the target in the same millisecond.
    runners_.back()->start(std::chrono::milliseconds(200) * index++);
  }
  publish_snapshot();
}

asio::awaitable<void> Daemon::stop_components() {
  auto deadline = steady_clock::now() + config_.daemon.shutdown_timeout;
  for (auto& runner : runners_) {
    auto left = std::max<Duration>(deadline - steady_clock::now(), std::chrono::milliseconds(200));
    Status cleaned = co_await runner->stop(left);
    if (cleaned) {
      spdlog::info("probe {} stopped, keys deleted", runner->config().name);
    } else {
      spdlog::warn("probe {}: {}", runner->config().name, cleaned.error().message);
    }
  }
  for (auto& monitor : monitors_) co_await monitor->stop();
  runners_.clear();
  monitors_.clear();
}

asio::awaitable<void> Daemon::shutdown(std::string reason) {
  stopping_ = true;
  boost::system::error_code ignored;
  signals_.cancel(ignored);
  heartbeat_.cancel();
  // Faults first: every one is reverted before the probes stop and the process exits.
  if (chaos_) {
    std::string why = "shutdown: " + reason;  // named: no temporaries inside co_await (GCC 12)
    co_await chaos_->halt_for_shutdown(std::move(why));
  }
  spdlog::info("stopping: cancelling probes and deleting their keys");
  co_await stop_components();
  io_.stop();
}

asio::awaitable<void> Daemon::reload() {
  if (options_.config_path.empty() || reloading_ || stopping_) co_return;
  reloading_ = true;
  ProbeRegistryCatalog catalog;
  try {
    Config fresh = load_config_file(options_.config_path, &catalog);
    validate_experiments(fresh);
    if (fresh.experiments.size() != config_.experiments.size()) {
      spdlog::warn("reload: [[experiments]] changed; they take effect after a restart");
    }
    if (lab_) {
      if (fresh.lab.topologies != config_.lab.topologies) {
        spdlog::warn("reload: lab topologies changed; the lab keeps running as started");
      }
      lab_->apply_to(fresh);
    }
    apply_fronting(config_, fresh);
    if (fresh.chaos.enabled != chaos_enabled_ ||
        fresh.chaos.max_active_faults != config_.chaos.max_active_faults ||
        fresh.chaos.deadman != config_.chaos.deadman) {
      spdlog::warn("reload: [chaos] changed; it takes effect after a restart");
    }
    fresh.chaos = config_.chaos;  // the chaos engine keeps the settings it started with
    if (fresh.daemon.listen != config_.daemon.listen && !options_.listen) {
      spdlog::warn("reload: daemon.listen changed to {}; it takes effect after a restart",
                   fresh.daemon.listen);
    }
    co_await stop_components();
    config_ = std::move(fresh);
    setup_logging(options_.log_level.value_or(config_.daemon.log_level), config_.daemon.log_format);
    if (!stopping_) start_components();
    spdlog::info("reload: {} applied ({} targets, {} probes)", options_.config_path,
                 config_.targets.size(), config_.probes.size());
  } catch (const ConfigError& e) {
    spdlog::error("reload rejected, keeping the running config: {}", e.what());
  }
  reloading_ = false;
}

void Daemon::watch_signals() {
  signals_.async_wait([this](boost::system::error_code ec, int signal_number) {
    if (ec) return;
    if (signal_number == SIGHUP) {
      spdlog::info("SIGHUP: reloading {}", options_.config_path);
      asio::co_spawn(io_, reload(), asio::detached);
      watch_signals();
      return;
    }
    spdlog::info("signal {} received", signal_number);
    const std::string reason = signal_number == SIGTERM ? "SIGTERM" : "SIGINT";
    if (!stopping_) asio::co_spawn(io_, shutdown(reason), asio::detached);
  });
}

void Daemon::beat() {
  if (stopping_) return;
  snapshots_.beat(clock_.wall_now());
  watch_lab();
  if (chaos_) chaos_->tick();
  heartbeat_.expires_after(std::chrono::seconds(1));
  heartbeat_.async_wait([this](boost::system::error_code ec) {
    if (!ec) beat();
  });
}

void Daemon::on_probe_run(const ProbeRun& run) {
  metrics_.record_probe_run(run.probe, run.type, run.target, run.ok, run.duration_seconds,
                            unix_seconds(run.finished_at));
  // Faults on the probe's target label its events: fault windows and clean windows compared.
  const std::string faults = chaos_ ? chaos_->active_fault_ids(run.target) : std::string();
  for (const auto& m : run.result.measurements) {
    if (!m.applicable()) continue;  // shown in /status, judged by no SLA
    metrics_.record_measurement(run.probe, run.target, m.name, m.subject, m.value);
    for (const auto& verdict : sla_.record(run.probe, m.name, m.value, m.subject, faults)) {
      metrics_.record_sla_event(verdict.rule->name, verdict.good, !faults.empty());
      if (verdict.transition == SlaTransition::breach) {
        spdlog::warn("SLA {} breached: {} = {} (want {}){}", verdict.rule->name, m.name, m.value,
                     verdict.rule->threshold.to_string(),
                     faults.empty() ? "" : " during fault " + faults);
      } else if (verdict.transition == SlaTransition::recovery) {
        spdlog::info("SLA {} recovered: {} = {}", verdict.rule->name, m.name, m.value);
      }
    }
  }
  for (const auto& status : sla_.snapshot()) metrics_.update_sla(status);
  if (run.ok) {
    // bench/ reads the start delay from this line (scheduler start jitter).
    if (run.start_delay_seconds) {
      spdlog::debug("probe {} ok in {:.3f}s, started {:.6f}s after its slot", run.probe,
                    run.duration_seconds, *run.start_delay_seconds);
    } else {
      spdlog::debug("probe {} ok in {:.3f}s", run.probe, run.duration_seconds);
    }
  } else {
    spdlog::warn("probe {} failed: {}", run.probe,
                 run.result.errors.empty() ? "unknown" : run.result.errors.front());
  }
  mark_snapshot_stale();
}

void Daemon::on_target_check(const std::string& target, const TargetHealth& health) {
  metrics_.set_target_up(target, health.up);
  mark_snapshot_stale();
}

// Built when asked for, not after every change: a rebuild walks every probe, SLA window and
// history (about 1 ms on the lab's 21 probes), probe runs end several times a second, and most
// sidecars' /status is read far less often than that. When nothing changed the last one serves.
std::shared_ptr<const StatusSnapshot> Daemon::snapshot() const {
  if (snapshot_stale_.load(std::memory_order_acquire)) {
    auto rebuilt = std::make_shared<std::promise<void>>();
    auto done = rebuilt->get_future();
    asio::post(loop_executor_, [this, rebuilt] {
      rebuild_snapshot_();
      rebuilt->set_value();
    });
    done.wait_for(std::chrono::milliseconds(250));
  }
  return snapshots_.get();
}

void Daemon::publish_snapshot() {
  snapshot_stale_.store(false, std::memory_order_release);
  auto snapshot = std::make_shared<StatusSnapshot>();
  snapshot->version = kVersion;
  snapshot->started_at = started_at_;
  snapshot->built_at = clock_.wall_now();
  snapshot->ready = !monitors_.empty();
  for (const auto& monitor : monitors_) {
    snapshot->targets.push_back(target_json(monitor->target(), monitor->health()));
    snapshot->ready = snapshot->ready && monitor->health().checked;
  }
  for (const auto& runner : runners_) snapshot->probes.push_back(probe_json(*runner));
  for (const auto& status : sla_.snapshot()) snapshot->slas.push_back(sla_json(status));
  snapshot->chaos = chaos_ ? chaos_->status_json()
                           : nlohmann::json{{"enabled", chaos_enabled_},
                                            {"halted", false},
                                            {"active", nlohmann::json::array()},
                                            {"recent", nlohmann::json::array()}};
  snapshots_.publish(std::move(snapshot));
}

Result<nlohmann::json> Daemon::run_probe(const std::string& name) {
  auto promise = std::make_shared<std::promise<bool>>();
  auto future = promise->get_future();
  asio::post(io_, [this, name, promise] {
    for (auto& runner : runners_) {
      if (runner->config().name == name) {
        runner->run_soon();
        promise->set_value(true);
        return;
      }
    }
    promise->set_value(false);
  });
  if (future.wait_for(std::chrono::seconds(2)) != std::future_status::ready) {
    return Error{ErrorCode::timeout, "the daemon did not take the request in time (stopping?)"};
  }
  if (!future.get()) return Error{ErrorCode::not_found, "no probe named \"" + name + "\""};
  return nlohmann::json{{"probe", name}, {"status", "scheduled"}};
}

}  // namespace chaosd
