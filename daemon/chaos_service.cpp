#include "daemon/chaos_service.h"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "chaos/registry.h"
#include "daemon/external_nodes.h"
#include "daemon/http/request_body.h"
#include "daemon/lab/lab.h"
#include "daemon/target_connection.h"
#include "daemon/util/time_format.h"

namespace chaosd {

namespace asio = boost::asio;
using nlohmann::json;
using std::chrono::steady_clock;

namespace {

constexpr size_t kRecentFaults = 50;

ApiReply error_reply(int status, std::string message) {
  return ApiReply{status, json{{"error", std::move(message)}}};
}

int status_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalid_argument:
      return 400;
    case ErrorCode::not_found:
      return 404;
    case ErrorCode::conflict:
      return 409;
    default:
      return 500;
  }
}

}  // namespace

// node_kill on the lab: SIGKILL a lab process, restart it on its port. Lab::restart blocks the
// loop until the node answers PING (bounded by RedisProcess::start).
class ChaosService::LabNodes final : public NodeSupervisor {
 public:
  explicit LabNodes(Lab& lab) : lab_(lab) {}
  asio::awaitable<Status> kill(const std::string& node) override { co_return lab_.kill(node); }
  asio::awaitable<Status> restart(const std::string& node) override {
    co_return lab_.restart(node);
  }

 private:
  Lab& lab_;
};

ChaosService::ChaosService(asio::any_io_executor executor, const Config& config, Lab* lab,
                           FaultProxy* proxy, Metrics& metrics, const SlaEngine& sla)
    : executor_(std::move(executor)),
      config_(config),
      chaos_(config.chaos),
      lab_(lab),
      proxy_(proxy),
      metrics_(metrics),
      last_heartbeat_(steady_clock::now()),
      sla_(sla),
      experiments_(config.experiments) {
  for (const auto& experiment : experiments_) metrics.add_experiment(experiment.name);
  if (lab_ != nullptr) lab_nodes_ = std::make_unique<LabNodes>(*lab_);
  for (const auto& target : config_.targets) {
    if (!target.lab && !target.restart_command.empty()) {
      external_nodes_[target.name] = std::make_unique<ExternalNodes>(executor_, target);
    }
  }
  std::vector<std::string> types;
  for (const auto& type : fault_types()) types.push_back(type.type);
  metrics_.add_chaos(types);
  metrics_.set_chaos_state(chaos_.enabled, false);
}

ChaosService::~ChaosService() { *alive_ = false; }

Status ChaosService::open() {
  const std::filesystem::path state_dir = config_.daemon.state_dir;
  if (!chaos_.enabled) {
    // Only a journal with pending faults needs this daemon (and its lock): another daemon with
    // chaos off may share the state_dir, and a journal of faults all reverted is history.
    std::ifstream in(state_dir / "chaos" / "faults.jsonl", std::ios::binary);
    std::ostringstream text;
    if (in) text << in.rdbuf();
    if (pending_faults(parse_journal(text.str()).entries).empty()) return Ok{};
    spdlog::warn("chaos: disabled, but the journal under {} has faults left behind: reverting them",
                 state_dir.string());
  }
  auto journal = FaultJournal::open(state_dir);
  if (!journal) {
    return Error{journal.error().code, "chaos: cannot open the fault journal under " +
                                           state_dir.string() + ": " + journal.error().message};
  }
  journal_ = std::move(journal.value());
  for (const auto& warning : journal_->warnings()) {
    spdlog::warn("chaos: journal {}: {}", journal_->path().string(), warning);
  }
  history_ = std::make_unique<RunHistory>(state_dir / "chaos" / "runs.jsonl", kRecentRuns);
  past_runs_ = history_->load();
  for (const auto& warning : history_->warnings()) spdlog::warn("chaos: run history {}", warning);
  supervisor_ = std::make_unique<FaultSupervisor>(
      executor_, *journal_,
      SupervisorOptions{.max_active_faults = chaos_.max_active_faults,
                        .max_duration = chaos_.max_fault_duration});
  supervisor_->set_listener([this](const JournalEntry& entry) { on_journal(entry); });
  spdlog::info("chaos: {} (journal {}, max_active_faults {}, max_fault_duration {}{})",
               chaos_.enabled ? "enabled" : "disabled, reverting leftovers only",
               journal_->path().string(), chaos_.max_active_faults,
               format_duration(chaos_.max_fault_duration),
               chaos_.deadman ? ", dead-man switch " + format_duration(*chaos_.deadman) : "");
  return Ok{};
}

asio::awaitable<void> ChaosService::reconcile() {
  if (!supervisor_) {
    ready_ = true;
    co_return;
  }
  // A lab fault of an earlier run died with that run's processes (the lab sweeps them at start
  // and starts new ones): there is nothing left to revert. Journal that, so it is not pending.
  for (const JournalEntry& record : journal_->pending()) {
    const TargetConfig* target = config_.find_target(record.target);
    if (target == nullptr || !target->lab) continue;
    JournalEntry gone = record;
    gone.event = JournalEvent::reverted;
    gone.time = std::chrono::system_clock::now();
    gone.reason = "reconcile: the lab run that had this fault is gone (its processes were killed)";
    (void)journal_->append(gone);
    spdlog::warn("chaos: leftover fault {} ({} on lab node {}): {}", record.id, record.type,
                 record.node, gone.reason);
  }
  // A named local: GCC 12 mishandles temporaries with destructors inside co_await arguments.
  const FaultSupervisor::ContextFactory context_for = [this](const JournalEntry& entry) {
    return context_for_record(entry);
  };
  const ReconcileReport report = co_await supervisor_->reconcile(context_for);
  for (const auto& id : report.reverted) {
    spdlog::warn("chaos: reconcile reverted leftover fault {}", id);
  }
  for (const auto& failure : report.failed) {
    spdlog::error("chaos: reconcile could not revert leftover fault {}", failure);
  }
  if (report.reverted.empty() && report.failed.empty()) {
    spdlog::info("chaos: reconcile: no fault left behind by an earlier run");
  }
  if (supervisor_->active_count() == 0 && journal_->pending().empty()) (void)journal_->compact();
  ready_ = true;
  last_heartbeat_ = steady_clock::now();
  update_metrics();
}

Result<FaultContext> ChaosService::context_for(const TargetConfig& target,
                                               const std::string& node) const {
  FaultContext ctx;
  ctx.executor = executor_;
  ctx.target = target.name;
  ctx.connection = connection_options(target);
  ctx.key_prefix = config_.daemon.key_prefix;
  ctx.proxy = proxy_;
  ctx.cluster = target.kind == TargetKind::cluster;
  for (const auto& seed : target.seeds) ctx.target_nodes.push_back(seed.to_string());
  ctx.state_dir = (std::filesystem::path(config_.daemon.state_dir) / "chaos").string();
  if (target.lab) {
    if (lab_ == nullptr) return Error{ErrorCode::not_found, "the lab is not running"};
    const LabNode* chosen = nullptr;
    for (const auto& candidate : lab_->nodes()) {
      if (candidate->topology != target.name) continue;
      bool wanted = node.empty() ? candidate->role == "primary"
                                 : candidate->process->name() == node ||
                                       candidate->process->address().to_string() == node;
      if (wanted) {
        chosen = candidate.get();
        break;
      }
    }
    if (chosen == nullptr) {
      std::string names;
      for (const auto& candidate : lab_->nodes()) {
        if (candidate->topology == target.name) {
          names += (names.empty() ? "" : ", ") + candidate->process->name();
        }
      }
      return Error{ErrorCode::not_found, "target \"" + target.name + "\" has no node \"" + node +
                                             "\" (its nodes: " + names + ")"};
    }
    ctx.node = chosen->process->name();
    ctx.connection.host = chosen->process->address().host;
    ctx.connection.port = chosen->process->port();
    ctx.nodes = lab_nodes_.get();
    return ctx;
  }
  // An external target: the node must be one of its configured addresses (default: its primary).
  std::vector<NodeAddress> known = {NodeAddress{target.host, target.port}};
  known.insert(known.end(), target.replicas.begin(), target.replicas.end());
  known.insert(known.end(), target.seeds.begin(), target.seeds.end());
  for (const auto& region : target.regions) known.push_back(region.address);
  const NodeAddress* chosen = nullptr;
  for (const auto& address : known) {
    if (node.empty() || address.to_string() == node) {
      chosen = &address;
      break;
    }
  }
  if (chosen == nullptr) {
    return Error{ErrorCode::not_found, "target \"" + target.name + "\" has no configured node \"" +
                                           node + "\" (use one of its addresses, host:port)"};
  }
  ctx.node = chosen->to_string();
  ctx.connection.host = chosen->host;
  ctx.connection.port = chosen->port;
  auto external = external_nodes_.find(target.name);
  ctx.nodes = external == external_nodes_.end() ? nullptr : external->second.get();
  return ctx;
}

Result<FaultContext> ChaosService::context_for_record(const JournalEntry& entry) const {
  const TargetConfig* target = config_.find_target(entry.target);
  if (target == nullptr) {
    return Error{ErrorCode::not_found, "target \"" + entry.target +
                                           "\" is not in the config any more; restore it "
                                           "(or revert the fault by hand) and restart"};
  }
  return context_for(*target, entry.node);
}

asio::awaitable<ApiReply> ChaosService::inject(json body, ApiCaller caller) {
  if (!chaos_.enabled || !supervisor_) co_return error_reply(403, "chaos is disabled");
  if (!ready_) co_return error_reply(503, "chaos is starting (reconcile under way); retry");
  auto parsed = parse_fault_request(body);
  if (!parsed) co_return error_reply(400, parsed.error().message);
  const std::string& fault_name = parsed->fault;
  const std::string& target_name = parsed->target;
  const std::string& node = parsed->node;
  const json& params = parsed->params;
  const Duration duration = parsed->duration;
  const TargetConfig* target = config_.find_target(target_name);
  if (target == nullptr) co_return error_reply(404, "no target named \"" + target_name + "\"");
  if (!target->chaos_allowed) {
    co_return error_reply(403, "target \"" + target_name +
                                   "\" does not allow chaos (set chaos_allowed = true on it)");
  }
  if (fault_name == "node_kill" && !target->lab && target->restart_command.empty()) {
    co_return error_reply(400, "node_kill on target \"" + target_name +
                                   "\" needs a restart_command in its [[targets]] table (without "
                                   "one the node could not be brought back)");
  }
  auto fault = create_fault_from_json(fault_name, params);
  if (!fault) co_return error_reply(400, fault.error().message);
  auto context = context_for(*target, node);
  if (!context) co_return error_reply(status_of(context.error().code), context.error().message);
  const std::string node_name = context.value().node;

  FaultRequest request{.fault = std::move(fault.value()),
                       .context = std::move(context.value()),
                       .duration = duration,
                       .experiment = ""};
  Result<std::string> id = co_await supervisor_->inject(std::move(request));
  if (!id) {
    const ErrorCode code = id.error().code;
    // Refusals (interlocks, a bad duration) touched nothing; anything else was an attempt.
    if (code != ErrorCode::conflict && code != ErrorCode::invalid_argument) {
      metrics_.record_injection(fault_name, false);
    }
    spdlog::warn("audit: POST /api/v1/faults refused: fault={} target={} node={} from {}: {}",
                 fault_name, target_name, node_name, caller.remote, id.error().message);
    update_metrics();
    notify();
    co_return error_reply(status_of(code), id.error().message);
  }
  metrics_.record_injection(fault_name, true);
  spdlog::info(
      "audit: POST /api/v1/faults accepted: fault={} target={} node={} duration={} id={} "
      "from {}",
      fault_name, target_name, node_name, format_duration(duration), id.value(), caller.remote);
  update_metrics();
  notify();
  json reply = {{"id", id.value()},
                {"fault", fault_name},
                {"target", target_name},
                {"node", node_name},
                {"duration", format_duration(duration)}};
  for (const auto& info : supervisor_->active()) {
    if (info.id == id.value()) reply.update(info.to_json());
  }
  co_return ApiReply{201, reply};
}

asio::awaitable<ApiReply> ChaosService::revert(std::string id, ApiCaller caller) {
  if (!chaos_.enabled || !supervisor_) co_return error_reply(403, "chaos is disabled");
  const std::string reason = "manual (" + caller.remote + ")";
  Status reverted = co_await supervisor_->revert(id, reason);
  update_metrics();
  notify();
  if (!reverted) co_return error_reply(status_of(reverted.error().code), reverted.error().message);
  spdlog::info("audit: DELETE /api/v1/faults/{} accepted (reverted) from {}", id, caller.remote);
  co_return ApiReply{200, json{{"id", id}, {"status", "reverted"}}};
}

asio::awaitable<ApiReply> ChaosService::halt(std::string reason, ApiCaller caller) {
  if (!chaos_.enabled || !supervisor_) co_return error_reply(403, "chaos is disabled");
  spdlog::info("audit: POST /api/v1/chaos/halt accepted: reason=\"{}\" from {}", reason,
               caller.remote);
  const std::string why = reason + " (" + caller.remote + ")";
  Status halted = co_await supervisor_->halt_all(why);
  update_metrics();
  notify();
  if (!halted) co_return error_reply(500, halted.error().message);
  co_return ApiReply{200, json{{"status", "halted"}, {"reason", why}}};
}

ApiReply ChaosService::resume(const ApiCaller& caller) {
  if (!chaos_.enabled || !supervisor_) return error_reply(403, "chaos is disabled");
  spdlog::info("audit: POST /api/v1/chaos/resume accepted from {}", caller.remote);
  supervisor_->resume();
  last_heartbeat_ = steady_clock::now();  // a fresh dead-man period
  update_metrics();
  notify();
  return ApiReply{200, json{{"status", "resumed"}}};
}

ApiReply ChaosService::heartbeat(const ApiCaller& caller) {
  if (!chaos_.enabled || !supervisor_) return error_reply(403, "chaos is disabled");
  spdlog::debug("audit: POST /api/v1/chaos/heartbeat from {}", caller.remote);
  last_heartbeat_ = steady_clock::now();
  json reply = {{"status", "ok"}, {"halted", supervisor_->halted()}};
  if (chaos_.deadman) reply["deadman_seconds"] = to_seconds(*chaos_.deadman);
  return ApiReply{200, reply};
}

asio::awaitable<void> ChaosService::halt_for_shutdown(std::string reason) {
  if (!supervisor_) co_return;
  if (supervisor_->active_count() > 0) {
    spdlog::info("chaos: reverting {} active fault(s) before exit", supervisor_->active_count());
  }
  Status halted = co_await supervisor_->halt_all(reason);
  if (halted) {
    spdlog::info("chaos: every fault reverted");
  } else {
    spdlog::error("chaos: {}; the journal keeps them for the next start to revert",
                  halted.error().message);
  }
  update_metrics();
}

void ChaosService::tick() {
  if (!supervisor_ || !ready_) return;
  if (chaos_.enabled && chaos_.deadman && !supervisor_->halted() && !halting_ &&
      steady_clock::now() - last_heartbeat_ > *chaos_.deadman) {
    halting_ = true;
    asio::co_spawn(executor_, check_deadman(), asio::detached);
  }
  update_metrics();
}

asio::awaitable<void> ChaosService::check_deadman() {
  const std::string reason = "dead-man switch: no heartbeat for " +
                             format_duration(*chaos_.deadman) + " (POST /api/v1/chaos/heartbeat)";
  spdlog::warn("chaos: {}", reason);
  Status halted = co_await supervisor_->halt_all(reason);
  if (!halted) spdlog::error("chaos: {}", halted.error().message);
  halting_ = false;
  update_metrics();
  notify();
}

void ChaosService::on_journal(const JournalEntry& entry) {
  if (entry.event == JournalEvent::reverted) {
    metrics_.record_revert(entry.type, true);
  } else if (entry.event == JournalEvent::revert_failed) {
    metrics_.record_revert(entry.type, false);
  }
  if (entry.event == JournalEvent::reverted || entry.event == JournalEvent::revert_failed) {
    recent_.push_front(json{{"id", entry.id},
                            {"fault", entry.type},
                            {"target", entry.target},
                            {"node", entry.node},
                            {"experiment", entry.experiment},
                            {"event", to_string(entry.event)},
                            {"reason", entry.reason},
                            {"error", entry.error},
                            {"time", iso8601(entry.time)}});
    if (recent_.size() > kRecentFaults) recent_.pop_back();
  }
  // The watchdog reverts on its own: metrics and the snapshot follow from here, once the
  // supervisor has let go of the fault (it journals before it forgets it).
  update_metrics();
  notify();
  asio::post(executor_, [this, alive = alive_] {
    if (!*alive) return;
    update_metrics();
    notify();
  });
}

void ChaosService::update_metrics() {
  const bool halted = supervisor_ && supervisor_->halted();
  metrics_.set_chaos_state(chaos_.enabled, halted);
  std::map<std::string, std::array<std::string, 3>> now;
  if (supervisor_) {
    for (const auto& info : supervisor_->active())
      now[info.id] = {info.type, info.target, info.experiment};
  }
  // fault_active{fault,target,experiment}: 1 while such a fault is active; kept at 0 after.
  for (const auto& [id, labels] : active_series_) {
    if (!now.contains(id)) metrics_.set_fault_active(labels[0], labels[1], labels[2], false);
  }
  for (const auto& [id, labels] : now) {
    metrics_.set_fault_active(labels[0], labels[1], labels[2], true);
  }
  active_series_ = std::move(now);
}

std::string ChaosService::active_fault_ids(const std::string& target) const {
  std::string ids;
  if (!supervisor_) return ids;
  for (const auto& info : supervisor_->active()) {
    if (info.target == target) ids += (ids.empty() ? "" : ",") + info.id;
  }
  return ids;
}

json ChaosService::status_json() const {
  json out = {{"enabled", chaos_.enabled},
              {"halted", supervisor_ && supervisor_->halted()},
              {"halt_reason", supervisor_ ? supervisor_->halt_reason() : std::string()},
              {"max_active_faults", chaos_.max_active_faults},
              {"max_fault_duration", format_duration(chaos_.max_fault_duration)},
              {"active", json::array()},
              {"recent", json::array()}};
  out["deadman_seconds"] = chaos_.deadman ? json(to_seconds(*chaos_.deadman)) : json(nullptr);
  if (supervisor_) {
    for (const auto& info : supervisor_->active()) out["active"].push_back(info.to_json());
  }
  for (const auto& item : recent_) out["recent"].push_back(item);
  experiments_json(out);
  return out;
}

void ChaosService::notify() const {
  if (changed_) changed_();
}

}  // namespace chaosd
