#include "probes/replicas.h"

#include "daemon/redis/cluster_redis_client.h"
#include "daemon/redis/crc16.h"
#include "daemon/redis/info.h"

namespace chaosd {
namespace asio = boost::asio;

namespace {

// The replicas of the shard serving the probe's slot.
asio::awaitable<Result<std::vector<ReplicaEndpoint>>> shard_replicas(ProbeContext& ctx) {
  std::vector<ReplicaEndpoint> replicas;
  auto* cluster = dynamic_cast<ClusterRedisClient*>(&ctx.redis);
  if (cluster == nullptr) co_return replicas;
  if (cluster->cluster().slot_map().empty()) {
    Status loaded = co_await cluster->cluster().refresh();
    if (!loaded) co_return loaded.error();
  }
  const Shard* shard = cluster->cluster().slot_map().shard_for_slot(key_hash_slot(ctx.key_prefix));
  if (shard == nullptr) co_return replicas;
  // Every replica, whatever its "health": a fresh replica says "loading" until its offset has
  // been gossiped, and a failed one shows as a replica that cannot be read.
  for (const auto& node : shard->replicas) {
    replicas.push_back({node.address(), {node.host, node.port}, true});
  }
  co_return replicas;
}

}  // namespace

asio::awaitable<Result<std::vector<ReplicaEndpoint>>> list_replicas(ProbeContext& ctx) {
  std::vector<ReplicaEndpoint> replicas;
  const TargetConfig& topology = ctx.topology;
  if (topology.kind == TargetKind::regions) {
    for (const auto& region : topology.regions) {
      if (!region.writable) replicas.push_back({region.name, region.address});
    }
    co_return replicas;
  }
  if (topology.kind == TargetKind::cluster) co_return co_await shard_replicas(ctx);
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

asio::awaitable<std::vector<Result<Reply>>> pipeline_on_replica(RedisConnection& connection,
                                                                const ReplicaEndpoint& replica,
                                                                std::vector<Command> commands) {
  if (!replica.cluster_replica) co_return co_await connection.pipeline(std::move(commands));
  commands.insert(commands.begin(), Command{"READONLY"});
  auto replies = co_await connection.pipeline(std::move(commands));
  if (!replies.empty() && !replies.front()) {
    // READONLY refused (or the connection failed): every read fails with that reason.
    Error error = replies.front().error();
    for (auto& reply : replies) reply = error;
  }
  if (!replies.empty()) replies.erase(replies.begin());
  co_return replies;
}

RedisConnection& EndpointConnections::to(ProbeContext& ctx, const ReplicaEndpoint& endpoint) {
  auto& slot = connections_[endpoint.name];
  if (!slot || slot->options().host != endpoint.address.host ||
      slot->options().port != endpoint.address.port) {
    ConnectionOptions options = ctx.target;
    options.host = endpoint.address.host;
    options.port = endpoint.address.port;
    options.client_name += ":" + role_;
    slot = std::make_unique<RedisConnection>(ctx.executor, options);
  }
  return *slot;
}

}  // namespace chaosd
