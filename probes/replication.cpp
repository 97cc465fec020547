#include "probes/replication.h"

#include <sstream>

#include "config/params.h"
#include "daemon/redis/info.h"
#include "probes/probe_keys.h"

namespace chaosd {
namespace asio = boost::asio;
using std::chrono::steady_clock;

namespace {

SteadyTime midpoint(SteadyTime a, SteadyTime b) { return a + (b - a) / 2; }

}  // namespace

asio::awaitable<Result<std::vector<ReplicationProbe::Replica>>> ReplicationProbe::replicas_of(
    ProbeContext& ctx) {
  std::vector<Replica> replicas;
  const TargetConfig& topology = ctx.topology;
  if (topology.kind == TargetKind::regions) {
    for (const auto& region : topology.regions) {
      if (!region.writable) replicas.push_back({region.name, region.address});
    }
    co_return replicas;
  }
  if (!topology.replicas.empty()) {
    for (const auto& address : topology.replicas)
      replicas.push_back({address.to_string(), address});
    co_return replicas;
  }
  Command info_replication{"INFO", "replication"};
  auto info = co_await ctx.redis.command_for_key(std::move(info_replication), ctx.key_prefix);
  if (!info) co_return info.error();
  for (const auto& address : replicas_from_info(info.value().str())) {
    replicas.push_back({address.to_string(), address});
  }
  co_return replicas;
}

RedisConnection& ReplicationProbe::connection_to(ProbeContext& ctx, const Replica& replica) {
  auto& slot = connections_[replica.name];
  if (!slot) {
    ConnectionOptions options = ctx.target;
    options.host = replica.address.host;
    options.port = replica.address.port;
    options.client_name += ":replica";
    slot = std::make_unique<RedisConnection>(ctx.executor, options);
  }
  return *slot;
}

asio::awaitable<ProbeResult> ReplicationProbe::run(ProbeContext& ctx) {
  ProbeResult result;
  auto replicas = co_await replicas_of(ctx);
  if (!replicas) {
    result.errors.push_back("listing replicas: " + replicas.error().describe());
    co_return result;
  }
  if (replicas.value().empty()) {
    result.errors.push_back("the target has no replica to measure (kind " +
                            std::string(to_string(ctx.topology.kind)) + ")");
    co_return result;
  }
  const std::string key = ctx.key_prefix + "heartbeat";
  const std::string marker = std::to_string(++sequence_) + ":" +
                             std::to_string(ctx.clock.wall_now().time_since_epoch().count());
  auto sent = steady_clock::now();
  auto written = co_await ctx.redis.call("SET", key, marker, "PX", "600000");
  auto written_at = midpoint(sent, steady_clock::now());
  if (!written) {
    result.errors.push_back("writing the heartbeat: " + written.error().describe());
    co_return result;
  }

  // Poll every replica in turn, each round sending one GET to every replica not yet caught up.
  struct Pending {
    Replica replica;
    RedisConnection* connection;
  };
  std::vector<Pending> waiting;
  for (const auto& replica : replicas.value()) {
    waiting.push_back({replica, &connection_to(ctx, replica)});
  }
  const auto give_up =
      written_at + std::chrono::duration_cast<SteadyTime::duration>(params_.max_wait);
  size_t converged = 0;
  while (!waiting.empty() && steady_clock::now() < give_up) {
    std::vector<Pending> still;
    for (auto& p : waiting) {
      auto asked = steady_clock::now();
      auto seen = co_await p.connection->call("GET", key);
      auto answered = steady_clock::now();
      if (seen && seen.value().str() == marker) {
        result.add("replication_lag_seconds",
                   std::max(0.0, seconds_between(written_at, midpoint(asked, answered))),
                   p.replica.name);
        ++converged;
      } else {
        if (!seen && seen.error().code == ErrorCode::cancelled) co_return result;
        still.push_back(p);
      }
    }
    waiting = std::move(still);
    if (!waiting.empty() && !co_await sleep_for(params_.poll_interval)) break;
  }
  for (const auto& p : waiting) {
    result.notes.push_back(p.replica.name + " did not show the heartbeat within " +
                           format_duration(params_.max_wait));
  }
  result.add("convergence_ratio", static_cast<double>(converged) / replicas.value().size());
  co_return result;
}

asio::awaitable<Status> ReplicationProbe::cleanup(ProbeContext& ctx) {
  co_return co_await delete_probe_keys(ctx);
}

ProbeType replication_probe_type() {
  return {
      .type = "replication",
      .summary = "replication lag per replica or region on one clock, convergence",
      .measurements = {"replication_lag_seconds", "convergence_ratio"},
      .default_slas =
          {
              {"replication_lag_seconds", "< 0.2", 0.99, "cross-region sync under 200 ms"},
              {"convergence_ratio", ">= 0.999", 0.99, "every replica sees each write"},
          },
      .create = [](const ProbeConfig& config,
                   const std::string& key_path) -> std::unique_ptr<Probe> {
        ParamReader params(config.params, key_path, config.where.file);
        ReplicationParams p;
        p.poll_interval =
            params.get_duration("poll_interval", p.poll_interval, std::chrono::microseconds(100),
                                std::chrono::seconds(1));
        p.max_wait = params.get_duration("max_wait", p.max_wait, std::chrono::milliseconds(10),
                                         std::chrono::minutes(1));
        params.finish();
        return std::make_unique<ReplicationProbe>(p);
      },
  };
}

}  // namespace chaosd
