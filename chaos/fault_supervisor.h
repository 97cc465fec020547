#pragma once
// FaultSupervisor: the watchdog of the chaos engine. It holds every active fault, enforces the
// interlocks (at most max_active_faults, one fault per target node, a bounded duration, nothing
// while halted, and the topology interlocks of chaos/interlocks.h: one fault per shard, no
// node_kill that loses the cluster's majority or a shard's primary+replica, no reshard while
// slots migrate), journals every step (chaos/journal.h) and reverts each fault at its hard
// deadline by itself, independently of whoever injected it (experiment, HTTP call).
//
//   FaultSupervisor supervisor(io.get_executor(), *journal);
//   co_await supervisor.reconcile(make_context);   // at start: revert what a crash left behind
//   auto id = co_await supervisor.inject(std::move(request));   // Result<std::string>
//   co_await supervisor.revert(id.value(), "manual");            // or wait for the deadline
//   co_await supervisor.halt_all("operator: incident 42");       // reverts all, refuses new ones
//   supervisor.resume();
//
// A revert that fails is journaled as revert_failed, logged at error level, and retried every
// revert_retry_interval until it succeeds; the fault keeps its slot meanwhile (so nothing new is
// injected on top of a fault that would not go away).
//
// Thread-safety: none; every call on the io_context thread of `executor`. Destroying the
// supervisor does not revert anything (the faults stay pending in the journal, as after a crash:
// call halt_all() first for a clean stop). Do not destroy it while one of its calls is suspended.
// The proxy and node supervisor in each FaultContext must outlive it.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "chaos/fault.h"
#include "chaos/journal.h"

namespace chaosd {

struct SupervisorOptions {
  int max_active_faults = 1;
  Duration max_duration = std::chrono::hours(1);
  Duration revert_retry_interval = std::chrono::seconds(5);
};

struct FaultRequest {
  std::unique_ptr<Fault> fault;
  /// executor, target, target_config, node, connection, key_prefix, proxy, nodes; the
  /// supervisor fills fault_id and duration.
  FaultContext context;
  Duration duration{};
  std::string experiment;  // for the journal and the status API; may be empty
};

enum class FaultPhase { injecting, active, reverting, revert_failed };
const char* to_string(FaultPhase phase);

/// A snapshot of one active fault for the status API.
struct ActiveFaultInfo {
  std::string id;
  std::string type;
  std::string target;
  std::string node;
  std::string experiment;
  FaultPhase phase = FaultPhase::injecting;
  WallTime deadline{};
  int revert_failures = 0;
  std::string last_error;
  nlohmann::json to_json() const;
};

struct ReconcileReport {
  std::vector<std::string> reverted;
  std::vector<std::string> failed;  // "id: error"; the fault is kept and retried (if rebuilt)
};

class FaultSupervisor {
 public:
  /// Rebuilds the context of a journaled fault (its target, node, proxy, node supervisor).
  using ContextFactory = std::function<Result<FaultContext>(const JournalEntry&)>;

  FaultSupervisor(boost::asio::any_io_executor executor, FaultJournal& journal,
                  SupervisorOptions options = {});
  ~FaultSupervisor();
  FaultSupervisor(const FaultSupervisor&) = delete;
  FaultSupervisor& operator=(const FaultSupervisor&) = delete;

  /// prepare, journal "injecting", inject, journal "injected", arm the deadline. Returns the
  /// fault id. Errors: conflict (halted, max_active_faults, node busy), invalid_argument (bad
  /// duration, or the fault refused), or the fault's own error (then it was reverted already).
  boost::asio::awaitable<Result<std::string>> inject(FaultRequest request);
  /// Reverts one fault now. not_found for an unknown id; conflict while it is being injected or
  /// reverted. A failed revert is returned and retried by the watchdog.
  boost::asio::awaitable<Status> revert(std::string id, std::string reason);
  /// Refuses new faults until resume() and reverts every active fault (waiting for faults in the
  /// middle of inject or revert). Ok when none is left.
  boost::asio::awaitable<Status> halt_all(std::string reason);
  void resume();
  bool halted() const { return halted_; }
  const std::string& halt_reason() const { return halt_reason_; }

  /// Reverts every fault the journal has as pending (injected and not reverted), each rebuilt
  /// from its record. Call once at start, before inject().
  boost::asio::awaitable<ReconcileReport> reconcile(const ContextFactory& make_context);

  std::vector<ActiveFaultInfo> active() const;
  size_t active_count() const { return faults_.size(); }

  /// Called (on the loop) with every record the supervisor journals, after it is appended:
  /// metrics and the "recent faults" list of the status API follow the faults through it.
  using Listener = std::function<void(const JournalEntry&)>;
  void set_listener(Listener listener) { listener_ = std::move(listener); }

 private:
  struct Entry;
  // References: every caller holds a named shared_ptr (GCC 12: no temporaries in co_await).
  boost::asio::awaitable<Status> revert_entry(const std::shared_ptr<Entry>& entry,
                                              const std::string& reason);
  boost::asio::awaitable<void> wait_while_busy(const std::shared_ptr<Entry>& entry);
  void start_watchdog(const std::shared_ptr<Entry>& entry);
  static boost::asio::awaitable<void> watchdog(FaultSupervisor* self, std::shared_ptr<bool> alive,
                                               std::shared_ptr<Entry> entry);
  Status journal(const Entry& entry, JournalEvent event, const std::string& reason,
                 const std::string& error);

  boost::asio::any_io_executor executor_;
  FaultJournal& journal_;
  SupervisorOptions options_;
  std::map<std::string, std::shared_ptr<Entry>> faults_;
  bool halted_ = false;
  std::string halt_reason_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  Listener listener_;
};

}  // namespace chaosd
