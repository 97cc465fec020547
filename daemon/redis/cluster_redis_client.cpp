#include "daemon/redis/cluster_redis_client.h"

#include "daemon/redis/crc16.h"
#include "daemon/redis/slot_map.h"

namespace chaosd {
namespace asio = boost::asio;

namespace {

std::vector<ClusterEndpoint> seeds_of(const TargetConfig& target) {
  std::vector<ClusterEndpoint> seeds;
  for (const auto& seed : target.seeds) seeds.push_back({seed.host, seed.port});
  if (seeds.empty()) seeds.push_back({target.host, target.port});
  return seeds;
}

bool is_redirect(const Result<Reply>& result) {
  return !result && result.error().code == ErrorCode::redis_error &&
         classify_cluster_error(result.error().message).kind != ClusterError::Kind::none;
}

}  // namespace

ClusterRedisClient::ClusterRedisClient(asio::any_io_executor executor, const TargetConfig& target,
                                       const ConnectionOptions& options)
    : cluster_(std::move(executor), seeds_of(target), options) {}

asio::awaitable<Result<Reply>> ClusterRedisClient::command(Command args) {
  co_return co_await cluster_.command(std::move(args), size_t{1});
}

asio::awaitable<Result<Reply>> ClusterRedisClient::command_for_key(Command args,
                                                                   std::string route_key) {
  HashSlot slot{key_hash_slot(route_key)};
  co_return co_await cluster_.command(std::move(args), slot);
}

asio::awaitable<std::vector<Result<Reply>>> ClusterRedisClient::pipeline(
    std::vector<Command> commands) {
  std::vector<Result<Reply>> results;
  if (commands.empty()) co_return results;
  bool one_slot = true;
  uint16_t slot = commands.front().size() > 1 ? key_hash_slot(commands.front()[1]) : 0;
  for (const auto& c : commands) one_slot = one_slot && c.size() > 1 && key_hash_slot(c[1]) == slot;
  if (cluster_.slot_map().empty()) (void)co_await cluster_.refresh();
  auto owner = cluster_.node_for_slot(slot);
  if (!one_slot || !owner) {
    // Keys on several slots (or no map yet): one routed command at a time, still correct.
    for (auto& c : commands) {
      Result<Reply> reply = co_await cluster_.command(std::move(c), size_t{1});
      results.push_back(std::move(reply));
    }
    co_return results;
  }
  auto connection = cluster_.connection(owner->host, owner->port);
  std::vector<Command> copies = commands;  // kept to re-run redirected commands
  results = co_await connection->pipeline(std::move(copies));
  for (size_t i = 0; i < results.size(); ++i) {
    if (!is_redirect(results[i])) continue;
    Result<Reply> rerun = co_await cluster_.command(std::move(commands[i]), size_t{1});
    results[i] = std::move(rerun);
  }
  co_return results;
}

std::optional<NodeAddress> ClusterRedisClient::node_for_key(std::string_view key) const {
  auto node = cluster_.node_for_slot(key_hash_slot(key));
  if (!node) return std::nullopt;
  return NodeAddress{node->host, node->port};
}

bool ClusterRedisClient::connected() const { return !cluster_.slot_map().empty(); }

}  // namespace chaosd
