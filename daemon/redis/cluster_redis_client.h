#pragma once
// A RedisClient over a ClusterClient: commands go to the node serving their key's slot, with
// MOVED/ASK/TRYAGAIN handled by the ClusterClient. A pipeline whose keys share one slot is sent
// to that slot's primary in one round trip; a command in it that meets a redirect is re-run alone
// through the ClusterClient.

#include <memory>

#include "daemon/redis/cluster_client.h"
#include "daemon/redis/redis_client.h"

namespace chaosd {

class ClusterRedisClient final : public RedisClient {
 public:
  ClusterRedisClient(boost::asio::any_io_executor executor, const TargetConfig& target,
                     const ConnectionOptions& options);

  boost::asio::awaitable<Result<Reply>> command(Command args) override;
  boost::asio::awaitable<Result<Reply>> command_for_key(Command args,
                                                        std::string route_key) override;
  boost::asio::awaitable<std::vector<Result<Reply>>> pipeline(
      std::vector<Command> commands) override;
  std::optional<NodeAddress> node_for_key(std::string_view key) const override;
  bool connected() const override;

  ClusterClient& cluster() { return cluster_; }

 private:
  ClusterClient cluster_;
};

}  // namespace chaosd
