#include "probes/replicas.h"

#include "daemon/redis/info.h"

namespace chaosd {
namespace asio = boost::asio;

asio::awaitable<Result<std::vector<ReplicaEndpoint>>> list_replicas(ProbeContext& ctx) {
  std::vector<ReplicaEndpoint> replicas;
  const TargetConfig& topology = ctx.topology;
  if (topology.kind == TargetKind::regions) {
    for (const auto& region : topology.regions) {
      if (!region.writable) replicas.push_back({region.name, region.address});
    }
    co_return replicas;
  }
  if (topology.kind != TargetKind::replicated) co_return replicas;
  if (!topology.replicas.empty()) {
    for (const auto& address : topology.replicas) {
      replicas.push_back({address.to_string(), address});
    }
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

std::vector<ReplicaEndpoint> writable_regions(const TargetConfig& topology) {
  std::vector<ReplicaEndpoint> regions;
  if (topology.kind != TargetKind::regions) return regions;
  for (const auto& region : topology.regions) {
    if (region.writable) regions.push_back({region.name, region.address});
  }
  return regions;
}

RedisConnection& EndpointConnections::to(ProbeContext& ctx, const ReplicaEndpoint& endpoint) {
  auto& slot = connections_[endpoint.name];
  if (!slot) {
    ConnectionOptions options = ctx.target;
    options.host = endpoint.address.host;
    options.port = endpoint.address.port;
    options.client_name += ":" + role_;
    slot = std::make_unique<RedisConnection>(ctx.executor, options);
  }
  return *slot;
}

}  // namespace chaosd
