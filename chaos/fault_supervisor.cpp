#include "chaos/fault_supervisor.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "chaos/interlocks.h"
#include "chaos/registry.h"
#include "daemon/util/time_format.h"

namespace chaosd {

namespace asio = boost::asio;
using std::chrono::steady_clock;
using std::chrono::system_clock;

struct FaultSupervisor::Entry {
  Entry(asio::any_io_executor executor, std::string id_in)
      : id(std::move(id_in)), watch(executor), settled(executor) {
    settled.expires_at(steady_clock::time_point::max());
  }
  std::string id;
  std::unique_ptr<Fault> fault;
  FaultContext context;
  std::string experiment;
  std::string node_key;  // the server's host:port: one fault per server, whatever its names
  ActiveFaultFootprint footprint;  // its nodes and shards: one fault per shard (interlocks.h)
  FaultPhase phase = FaultPhase::injecting;
  WallTime deadline{};
  steady_clock::time_point next_attempt{};  // the deadline, then the next revert retry
  int revert_failures = 0;
  std::string last_error;
  bool done = false;           // reverted and forgotten
  asio::steady_timer watch;    // the watchdog sleeps on it
  asio::steady_timer settled;  // never expires; cancelled whenever an inject/revert step ends
};

namespace {
// Two target names (or a lab name and an address) for one server are one server.
std::string server_key(const FaultContext& context) {
  return context.connection.host + ":" + std::to_string(context.connection.port);
}
}  // namespace

const char* to_string(FaultPhase phase) {
  switch (phase) {
    case FaultPhase::injecting:
      return "injecting";
    case FaultPhase::active:
      return "active";
    case FaultPhase::reverting:
      return "reverting";
    case FaultPhase::revert_failed:
      return "revert_failed";
  }
  return "unknown";
}

nlohmann::json ActiveFaultInfo::to_json() const {
  return {{"id", id},
          {"fault", type},
          {"target", target},
          {"node", node},
          {"experiment", experiment},
          {"phase", to_string(phase)},
          {"deadline", iso8601(deadline)},
          {"revert_failures", revert_failures},
          {"last_error", last_error}};
}

FaultSupervisor::FaultSupervisor(asio::any_io_executor executor, FaultJournal& journal,
                                 SupervisorOptions options)
    : executor_(std::move(executor)), journal_(journal), options_(options) {}

FaultSupervisor::~FaultSupervisor() {
  *alive_ = false;
  for (auto& [id, entry] : faults_) {
    entry->watch.cancel();
    entry->settled.cancel();
    if (!entry->done) {
      spdlog::warn(
          "chaos: fault {} ({}) left active at shutdown; the journal keeps it for the "
          "next start to revert",
          id, entry->fault->type());
    }
  }
}

Status FaultSupervisor::journal(const Entry& entry, JournalEvent event, const std::string& reason,
                                const std::string& error) {
  JournalEntry record;
  record.event = event;
  record.id = entry.id;
  record.time = system_clock::now();
  nlohmann::json fault = entry.fault->record();
  record.type = entry.fault->type();
  record.params = fault.value("params", nlohmann::json::object());
  record.state = fault.value("state", nlohmann::json::object());
  record.target = entry.context.target;
  record.node = entry.context.node;
  record.experiment = entry.experiment;
  record.deadline = entry.deadline;
  record.reason = reason;
  record.error = error;
  auto appended = journal_.append(record);
  if (!appended) {
    spdlog::error("chaos: cannot journal {} of fault {}: {}", to_string(event), entry.id,
                  appended.error().message);
  }
  if (listener_) listener_(record);
  return appended;
}

asio::awaitable<Result<std::string>> FaultSupervisor::inject(FaultRequest request) {
  if (halted_) co_return Error{ErrorCode::conflict, "chaos is halted: " + halt_reason_};
  if (!request.fault) co_return Error{ErrorCode::invalid_argument, "no fault"};
  if (request.duration <= Duration::zero() || request.duration > options_.max_duration) {
    co_return Error{ErrorCode::invalid_argument,
                    "duration " + format_duration(request.duration) +
                        " must be > 0 and <= " + format_duration(options_.max_duration)};
  }
  if (static_cast<int>(faults_.size()) >= options_.max_active_faults) {
    co_return Error{ErrorCode::conflict, "max_active_faults (" +
                                             std::to_string(options_.max_active_faults) +
                                             ") faults are active already"};
  }
  std::string node_key = server_key(request.context);
  for (const auto& [id, other] : faults_) {
    if (other->node_key == node_key) {
      co_return Error{ErrorCode::conflict, "node " + request.context.node + " of target " +
                                               request.context.target + " has fault " + id +
                                               " already (one fault per node)"};
    }
  }

  auto entry = std::make_shared<Entry>(executor_, new_fault_id());
  entry->fault = std::move(request.fault);
  entry->context = std::move(request.context);
  entry->context.fault_id = entry->id;
  entry->context.duration = request.duration;
  if (!entry->context.executor) entry->context.executor = executor_;
  entry->experiment = std::move(request.experiment);
  entry->node_key = std::move(node_key);
  entry->deadline =
      system_clock::now() + std::chrono::duration_cast<system_clock::duration>(request.duration);
  entry->next_attempt = steady_clock::now() + request.duration;
  faults_[entry->id] = entry;  // holds the slot while we inject
  auto forget = [&] {
    faults_.erase(entry->id);
    entry->done = true;
    entry->settled.cancel();
  };

  auto prepared = co_await entry->fault->prepare(entry->context);
  if (!prepared) {
    forget();  // nothing was changed yet
    co_return prepared.error();
  }
  // The topology interlocks (one fault per shard, node_kill majority, reshard while migrating)
  // need what prepare() chose (e.g. reshard's source and target primaries).
  std::vector<ActiveFaultFootprint> others;
  for (const auto& [id, other] : faults_) {
    if (other != entry) others.push_back(other->footprint);
  }
  auto shards = co_await check_topology_interlocks(*entry->fault, entry->context, others);
  if (!shards) {
    forget();  // prepare() changed nothing
    co_return shards.error();
  }
  entry->footprint = ActiveFaultFootprint{.id = entry->id,
                                          .type = entry->fault->type(),
                                          .target = entry->context.target,
                                          .nodes = entry->fault->affected_nodes(entry->context),
                                          .shards = std::move(shards.value())};
  if (halted_) {  // halt_all() ran while prepare() or the interlocks read the target
    forget();
    co_return Error{ErrorCode::conflict, "chaos was halted before the injection: " + halt_reason_};
  }
  auto intent = journal(*entry, JournalEvent::injecting, "", "");
  if (!intent) {
    forget();  // never touch a target without a record to revert it by
    co_return intent.error();
  }
  spdlog::info("chaos: injecting {} {} on {} {} for {}", entry->fault->type(), entry->id,
               entry->context.target, entry->context.node, format_duration(request.duration));
  auto injected = co_await entry->fault->inject(entry->context);
  if (!injected) {
    spdlog::warn("chaos: inject of {} {} failed: {}; reverting", entry->fault->type(), entry->id,
                 injected.error().message);
    const std::string reason = "inject failed";
    (void)co_await revert_entry(entry, reason);
    if (!entry->done) start_watchdog(entry);  // retried until it succeeds
    co_return injected.error();
  }
  (void)journal(*entry, JournalEvent::injected, "", "");
  if (halted_) {  // halt_all() ran while we injected: it waits for us to take this back
    const std::string reason = "halt: " + halt_reason_;
    (void)co_await revert_entry(entry, reason);
    if (!entry->done) start_watchdog(entry);
    co_return Error{ErrorCode::conflict, "chaos was halted during the injection: " + halt_reason_};
  }
  entry->phase = FaultPhase::active;
  entry->settled.cancel();
  start_watchdog(entry);
  co_return entry->id;
}

asio::awaitable<Status> FaultSupervisor::revert_entry(const std::shared_ptr<Entry>& entry,
                                                      const std::string& reason) {
  entry->phase = FaultPhase::reverting;
  auto reverted = co_await entry->fault->revert(entry->context);
  if (reverted) {
    (void)journal(*entry, JournalEvent::reverted, reason, "");
    spdlog::info("chaos: reverted {} {} ({})", entry->fault->type(), entry->id, reason);
    faults_.erase(entry->id);
    entry->done = true;
    entry->watch.cancel();
    entry->settled.cancel();
    co_return Ok{};
  }
  ++entry->revert_failures;
  entry->last_error = reverted.error().message;
  entry->phase = FaultPhase::revert_failed;
  entry->next_attempt = steady_clock::now() + options_.revert_retry_interval;
  (void)journal(*entry, JournalEvent::revert_failed, reason, entry->last_error);
  spdlog::error("chaos: REVERT FAILED for {} {} on {} {} (attempt {}, {}): {}; retrying in {}",
                entry->fault->type(), entry->id, entry->context.target, entry->context.node,
                entry->revert_failures, reason, entry->last_error,
                format_duration(options_.revert_retry_interval));
  entry->watch.cancel();  // the watchdog re-arms at next_attempt
  entry->settled.cancel();
  co_return Error{reverted.error().code, "revert of " + entry->id +
                                             " failed: " + entry->last_error + " (retried every " +
                                             format_duration(options_.revert_retry_interval) + ")"};
}

void FaultSupervisor::start_watchdog(const std::shared_ptr<Entry>& entry) {
  asio::co_spawn(executor_, watchdog(this, alive_, entry), asio::detached);
}

asio::awaitable<void> FaultSupervisor::watchdog(FaultSupervisor* self, std::shared_ptr<bool> alive,
                                                std::shared_ptr<Entry> entry) {
  while (*alive && !entry->done) {
    if (entry->phase == FaultPhase::reverting || entry->phase == FaultPhase::injecting) {
      // Someone else is working on it; it cancels `settled` when done.
      boost::system::error_code ec;
      co_await entry->settled.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    if (steady_clock::now() < entry->next_attempt) {
      entry->watch.expires_at(entry->next_attempt);
      boost::system::error_code ec;
      co_await entry->watch.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;  // woken early (revert, re-arm, shutdown) or on time: look again
    }
    const std::string reason = entry->revert_failures == 0 ? "deadline" : "retry";
    (void)co_await self->revert_entry(entry, reason);
  }
}

asio::awaitable<void> FaultSupervisor::wait_while_busy(const std::shared_ptr<Entry>& entry) {
  while (!entry->done &&
         (entry->phase == FaultPhase::injecting || entry->phase == FaultPhase::reverting)) {
    boost::system::error_code ec;
    co_await entry->settled.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<Status> FaultSupervisor::revert(std::string id, std::string reason) {
  auto it = faults_.find(id);
  if (it == faults_.end()) co_return Error{ErrorCode::not_found, "no active fault " + id};
  std::shared_ptr<Entry> entry = it->second;
  if (entry->phase == FaultPhase::injecting || entry->phase == FaultPhase::reverting) {
    co_return Error{ErrorCode::conflict, "fault " + id + " is " + to_string(entry->phase)};
  }
  co_return co_await revert_entry(entry, reason);
}

asio::awaitable<Status> FaultSupervisor::halt_all(std::string reason) {
  halted_ = true;
  halt_reason_ = reason;
  spdlog::warn("chaos: HALT ({}): reverting {} fault(s), refusing new ones until resume", reason,
               faults_.size());
  std::vector<std::shared_ptr<Entry>> entries;
  for (auto& [id, entry] : faults_) entries.push_back(entry);
  const std::string why = "halt: " + reason;
  for (const auto& entry : entries) {
    co_await wait_while_busy(entry);  // an injection in flight reverts itself when it sees halted_
    if (entry->done) continue;
    // A failure is retried by the entry's watchdog and reported below.
    (void)co_await revert_entry(entry, why);
  }
  if (faults_.empty()) co_return Ok{};
  std::string left;
  for (auto& [id, entry] : faults_) left += (left.empty() ? "" : ", ") + id;
  co_return Error{ErrorCode::internal,
                  "halt: these faults could not be reverted (retried in the background): " + left};
}

void FaultSupervisor::resume() {
  if (halted_) spdlog::info("chaos: resumed after halt ({})", halt_reason_);
  halted_ = false;
  halt_reason_.clear();
}

asio::awaitable<ReconcileReport> FaultSupervisor::reconcile(const ContextFactory& make_context) {
  ReconcileReport report;
  const std::vector<JournalEntry> pending = journal_.pending();
  for (const auto& record : pending) {
    if (faults_.contains(record.id)) continue;
    spdlog::warn("chaos: fault {} ({} on {} {}) was left {} by a previous run; reverting",
                 record.id, record.type, record.target, record.node, to_string(record.event));
    auto fault = restore_fault(record.fault_record());
    Result<FaultContext> context =
        fault ? make_context(record) : Result<FaultContext>(fault.error());
    if (!fault || !context) {
      const std::string error = !fault ? fault.error().message : context.error().message;
      // Cannot even be attempted: journaled and reported at every start until someone acts.
      JournalEntry failed = record;
      failed.event = JournalEvent::revert_failed;
      failed.time = system_clock::now();
      failed.reason = "reconcile";
      failed.error = error;
      (void)journal_.append(failed);
      if (listener_) listener_(failed);
      spdlog::error("chaos: CANNOT REVERT leftover fault {} ({}): {}", record.id, record.type,
                    error);
      report.failed.push_back(record.id + ": " + error);
      continue;
    }
    auto entry = std::make_shared<Entry>(executor_, record.id);
    entry->fault = std::move(fault.value());
    entry->context = std::move(context.value());
    entry->context.fault_id = record.id;
    entry->context.duration = std::chrono::duration_cast<Duration>(record.deadline - record.time);
    if (entry->context.duration < Duration::zero()) entry->context.duration = Duration::zero();
    if (!entry->context.executor) entry->context.executor = executor_;
    entry->experiment = record.experiment;
    entry->node_key = server_key(entry->context);
    entry->deadline = record.deadline;
    entry->phase = FaultPhase::reverting;
    faults_[entry->id] = entry;
    const std::string reason = "reconcile";
    auto reverted = co_await revert_entry(entry, reason);
    if (reverted) {
      report.reverted.push_back(record.id);
    } else {
      report.failed.push_back(record.id + ": " + reverted.error().message);
      start_watchdog(entry);  // keeps retrying; holds its slot meanwhile
    }
  }
  co_return report;
}

std::vector<ActiveFaultInfo> FaultSupervisor::active() const {
  std::vector<ActiveFaultInfo> out;
  for (const auto& [id, entry] : faults_) {
    out.push_back(ActiveFaultInfo{.id = id,
                                  .type = entry->fault->type(),
                                  .target = entry->context.target,
                                  .node = entry->context.node,
                                  .experiment = entry->experiment,
                                  .phase = entry->phase,
                                  .deadline = entry->deadline,
                                  .revert_failures = entry->revert_failures,
                                  .last_error = entry->last_error});
  }
  return out;
}

}  // namespace chaosd
