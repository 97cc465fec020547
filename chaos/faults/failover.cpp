#include "chaos/faults/failover.h"

#include <spdlog/spdlog.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "chaos/cluster_view.h"
#include "config/params.h"
#include "config/toml_reader.h"

namespace chaosd {
namespace {

namespace asio = boost::asio;

std::string own_address(const FaultContext& ctx) {
  return ctx.connection.host + ":" + std::to_string(ctx.connection.port);
}

ConnectionOptions node_options(const FaultContext& ctx, const std::string& address) {
  ConnectionOptions options = fault_connection_options(ctx, "failover");
  auto parts = split_address(address);
  if (parts) {
    options.host = parts->first;
    options.port = parts->second;
  }
  return options;
}

// "master" or "slave" (ROLE's first element), or an error.
asio::awaitable<Result<std::string>> role_of(RedisConnection& conn) {
  auto reply = co_await conn.call("ROLE");
  if (!reply) co_return reply.error();
  const auto& elements = reply.value().elements();
  if (!reply.value().is_array() || elements.empty() || !elements[0].is_string()) {
    co_return Error{ErrorCode::protocol, "ROLE answered " + reply.value().debug_string()};
  }
  co_return elements[0].str();
}

// The replica's link to its primary is up and not in a full sync: CLUSTER FAILOVER (the
// coordinated kind) only completes then.
asio::awaitable<bool> in_sync(RedisConnection& conn) {
  auto info = co_await conn.call("INFO", "replication");
  if (!info || !info.value().is_string()) co_return false;
  const std::string& text = info.value().str();
  co_return text.find("master_link_status:up") !=
      std::string::npos&& text.find("master_sync_in_progress:0") != std::string::npos;
}

// CLUSTER FAILOVER on `address` (a replica) once it is in sync, then waits until it says it is
// the primary. Redis drops a manual failover that does not complete in 5 s (e.g. a primary that
// just became a replica is still syncing): it is sent again then, within kSwapTimeout.
asio::awaitable<Status> promote(const FaultContext& ctx, const std::string& address,
                                const std::string& demoted) {
  RedisConnection conn(ctx.executor, node_options(ctx, address));
  auto role = co_await role_of(conn);
  if (!role) {
    co_return Error{role.error().code,
                    "failover: ROLE on " + address + ": " + role.error().message};
  }
  if (role.value() == "master") co_return Ok{};
  using std::chrono::steady_clock;
  const auto deadline = steady_clock::now() + FailoverFault::kSwapTimeout;
  auto next_request = steady_clock::now();
  std::string last_error = "its link to its primary is not up";
  asio::steady_timer wait(ctx.executor);
  bool promoted = false;
  while (!promoted && steady_clock::now() < deadline) {
    bool ready = false;
    if (steady_clock::now() >= next_request) ready = co_await in_sync(conn);
    if (ready) {
      auto started = co_await conn.call("CLUSTER", "FAILOVER");
      if (started) {
        next_request = steady_clock::now() + std::chrono::seconds(6);
        last_error = "the failover did not complete";
      } else {
        last_error = "CLUSTER FAILOVER: " + started.error().message;
        next_request = steady_clock::now() + std::chrono::milliseconds(500);
      }
    }
    wait.expires_after(std::chrono::milliseconds(100));
    boost::system::error_code ec;
    co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    auto now = co_await role_of(conn);
    promoted = now && now.value() == "master";
  }
  if (promoted) {
    // The other half of the swap: the old primary turns replica once it hears of the new epoch.
    RedisConnection other(ctx.executor, node_options(ctx, demoted));
    while (steady_clock::now() < deadline) {
      auto now = co_await role_of(other);
      if (now && now.value() == "slave") co_return Ok{};
      if (!now) co_return Ok{};  // unreachable: it cannot serve as a second primary either
      wait.expires_after(std::chrono::milliseconds(100));
      boost::system::error_code ec;
      co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    last_error = address + " is primary but " + demoted + " still says it is primary too";
  }
  co_return Error{ErrorCode::timeout, "failover: " + address + " did not take over as primary in " +
                                          format_duration(FailoverFault::kSwapTimeout) + " (" +
                                          last_error + ")"};
}

}  // namespace

const std::string& FailoverFault::type() const {
  static const std::string kType = "failover";
  return kType;
}

std::vector<std::string> FailoverFault::affected_nodes(const FaultContext& ctx) const {
  if (state_.primary.empty()) return {own_address(ctx)};
  return {state_.primary, state_.replica};
}

asio::awaitable<Status> FailoverFault::prepare(FaultContext& ctx) {
  state_ = {};
  std::vector<std::string> sources = {own_address(ctx)};
  sources.insert(sources.end(), ctx.target_nodes.begin(), ctx.target_nodes.end());
  auto read = read_topology(ctx.executor, fault_connection_options(ctx, type()), sources);
  auto topology = co_await std::move(read);
  if (!topology) co_return Error{topology.error().code, "failover: " + topology.error().message};
  if (!topology.value().cluster) {
    co_return Error{ErrorCode::invalid_argument,
                    "failover: works on cluster targets only; \"" + ctx.target +
                        "\" is standalone (a REPLICAOF swap cannot be taken back without losing "
                        "writes, see docs/chaos.md)"};
  }
  const ClusterView& view = *topology.value().cluster;
  const ViewNode* node = view.by_address(own_address(ctx));
  if (node == nullptr) {
    co_return Error{ErrorCode::invalid_argument,
                    "failover: node " + own_address(ctx) + " is not in CLUSTER NODES"};
  }
  const ViewNode* primary = view.by_id(view.shard_of(*node));
  if (primary == nullptr || !primary->primary || primary->failing) {
    co_return Error{ErrorCode::invalid_argument,
                    "failover: the shard of " + own_address(ctx) + " has no healthy primary"};
  }
  const ViewNode* replica = nullptr;
  for (const ViewNode* candidate : view.replicas_of(primary->id)) {
    if (candidate->failing) continue;
    if (params_.replica.empty() || candidate->address == params_.replica) {
      replica = candidate;
      break;
    }
  }
  if (replica == nullptr) {
    co_return Error{
        ErrorCode::invalid_argument,
        "failover: the shard of primary " + primary->address + " has no healthy " +
            (params_.replica.empty() ? std::string("replica") : "replica " + params_.replica)};
  }
  state_ = FailoverState{.primary = primary->address,
                         .primary_id = primary->id,
                         .replica = replica->address,
                         .replica_id = replica->id};
  co_return Ok{};
}

asio::awaitable<Status> FailoverFault::inject(FaultContext& ctx) {
  if (state_.primary.empty())
    co_return Error{ErrorCode::internal, "failover: inject before prepare"};
  co_return co_await promote(ctx, state_.replica, state_.primary);
}

asio::awaitable<Status> FailoverFault::revert(FaultContext& ctx) {
  if (state_.primary.empty()) co_return Ok{};  // prepare never completed: nothing changed
  // promote() leaves a node that is primary already alone: that makes revert idempotent.
  co_return co_await promote(ctx, state_.primary, state_.replica);
}

nlohmann::json FailoverFault::record() const {
  return {{"type", type()},
          {"params", {{"replica", params_.replica}}},
          {"state",
           {{"primary", state_.primary},
            {"primary_id", state_.primary_id},
            {"replica", state_.replica},
            {"replica_id", state_.replica_id}}}};
}

FaultType failover_fault_type() {
  return FaultType{
      .type = "failover",
      .summary = "CLUSTER FAILOVER to a replica of the node's shard; failed back on revert",
      .create = [](const toml::table& table, const std::string& key_path,
                   const std::string& file) -> std::unique_ptr<Fault> {
        ParamReader params(table, key_path, file);
        FailoverParams p;
        p.replica = params.get_string("replica", "");
        params.finish();
        if (!p.replica.empty() && !split_address(p.replica)) {
          throw ConfigError(location_of(table.source(), file), key_path + ".replica",
                            "\"" + p.replica + "\" is not a node address (use \"host:port\")");
        }
        return std::make_unique<FailoverFault>(p);
      },
      .restore = [](const nlohmann::json& record) -> Result<std::unique_ptr<Fault>> {
        FailoverParams p;
        p.replica = record.at("params").at("replica").get<std::string>();
        const auto& state = record.at("state");
        FailoverState s{.primary = state.at("primary").get<std::string>(),
                        .primary_id = state.at("primary_id").get<std::string>(),
                        .replica = state.at("replica").get<std::string>(),
                        .replica_id = state.at("replica_id").get<std::string>()};
        if (!s.primary.empty() && (!split_address(s.primary) || !split_address(s.replica))) {
          return Error{ErrorCode::invalid_argument, "failover record: bad node address"};
        }
        return std::unique_ptr<Fault>(std::make_unique<FailoverFault>(p, s));
      },
  };
}

}  // namespace chaosd
