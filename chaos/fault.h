#pragma once
// The Fault interface of the chaos engine (DESIGN.md §6). A fault is one plugin
// (chaos/faults/<name>.{h,cpp}) plus one line in chaos/registry.cpp.
//
// Life of a fault, driven by FaultSupervisor (chaos/fault_supervisor.h):
//   prepare(ctx)  reads what revert will need (e.g. the original maxmemory); changes nothing;
//   -> journal "injecting" with record()  (so a crash during inject still gets reverted)
//   inject(ctx)   changes the target;
//   -> journal "injected" with record()
//   revert(ctx)   undoes it; idempotent, and it works on a fault rebuilt from record() alone
//                 (FaultType::restore), because the daemon may have been SIGKILLed in between.
//   -> journal "reverted" (or "revert_failed", and it is retried: never silently dropped)
//
// Errors are Status values, never exceptions. Every wait inside a fault is bounded.
// Thread-safety: none; faults run on the io_context thread of ctx.executor.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/duration.h"
#include "daemon/redis/connection.h"
#include "daemon/util/result.h"

namespace chaosd {

class FaultProxy;

/// Kills and restarts nodes by name. The daemon implements it over the Lab (Lab::restart) or over
/// configured kill/restart commands; tests over their RedisServer fixtures. Both calls are
/// bounded and idempotent: kill() of a dead node and restart() of a running one succeed.
class NodeSupervisor {
 public:
  virtual ~NodeSupervisor() = default;
  virtual boost::asio::awaitable<Status> kill(const std::string& node) = 0;
  virtual boost::asio::awaitable<Status> restart(const std::string& node) = 0;
};

/// Everything a fault may touch. The daemon builds one per injection (and, at reconcile, one per
/// journal record from its target and node); the supervisor fills in fault_id and duration.
struct FaultContext {
  boost::asio::any_io_executor executor;
  std::string fault_id;                         // unique; names toxics and ballast keys
  std::string target;                           // the target's name in the config
  const TargetConfig* target_config = nullptr;  // may be null (tests, a target gone from config)
  std::string node;                   // the node under fault: "host:port" or a lab node name
  ConnectionOptions connection;       // how to reach that node (AUTH, db, timeouts)
  std::string key_prefix = "chaosd";  // daemon.key_prefix: ballast keys live under it
  Duration duration{};                // how long the fault is meant to last (its deadline)
  FaultProxy* proxy = nullptr;        // network_* faults; null when the daemon runs none
  NodeSupervisor* nodes = nullptr;    // node_kill; null when nodes cannot be killed
  /// Where a fault keeps files its revert needs after a restart (flush_namespace's snapshot):
  /// the journal's directory, <daemon.state_dir>/chaos. Empty: the fault has none.
  std::string state_dir;
  /// A cluster target (the interlocks refuse a fault whose cluster topology cannot be read), and
  /// other nodes of the target ("host:port") to read the topology from when the node is down.
  bool cluster = false;
  std::vector<std::string> target_nodes;
};

class Fault {
 public:
  virtual ~Fault() = default;
  /// The registry name, e.g. "memory_pressure".
  virtual const std::string& type() const = 0;
  /// Reads the state revert() needs; must not change the target. Default: nothing to read.
  virtual boost::asio::awaitable<Status> prepare(FaultContext& ctx);
  virtual boost::asio::awaitable<Status> inject(FaultContext& ctx) = 0;
  /// Undoes inject(). Idempotent; also after a partial or failed inject, and on a fault rebuilt
  /// by FaultType::restore() from record().
  virtual boost::asio::awaitable<Status> revert(FaultContext& ctx) = 0;
  /// {"type", "params", "state"}: params as validated (base units), state as captured by
  /// prepare()/inject(). FaultType::restore() reads it back.
  virtual nlohmann::json record() const = 0;
  /// The nodes ("host:port") the fault acts on, known after prepare(): the interlocks keep one
  /// fault per shard with it. Default: the context's node.
  virtual std::vector<std::string> affected_nodes(const FaultContext& ctx) const;
};

/// A connection for a fault's own commands, named "redis-chaosd:chaos:<type>".
ConnectionOptions fault_connection_options(const FaultContext& ctx, const std::string& type);

/// "f-<unix ms>-<8 hex>": unique, sortable, valid in toxic names and key names.
std::string new_fault_id();

}  // namespace chaosd
