#pragma once
// What a probe talks to: one Redis server (RedisConnection) or a whole cluster
// (ClusterRedisClient, routing each command to the node serving its key's slot). Probes keep
// their keys under a hash-tagged prefix so that a run's keys share one slot, and therefore one
// node, which keeps pipelines possible on a cluster.
//
// Thread-safety: none; use from the io_context thread that owns it.

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "daemon/redis/reply.h"
#include "daemon/util/result.h"

namespace chaosd {

using Command = std::vector<std::string>;

class RedisClient {
 public:
  virtual ~RedisClient() = default;

  /// Runs a command whose key is args[1] (GET key, SET key value, ...). A server error reply
  /// (-ERR ...) is an ErrorCode::redis_error.
  virtual boost::asio::awaitable<Result<Reply>> command(Command args) = 0;
  /// Runs a command without a key (PING, SCAN, INFO, CONFIG) on the node serving `route_key`.
  virtual boost::asio::awaitable<Result<Reply>> command_for_key(Command args,
                                                                std::string route_key) = 0;
  /// Sends every command before awaiting any reply. On a cluster every command's key must hash
  /// to one slot (use a hash tag); results come back in order.
  virtual boost::asio::awaitable<std::vector<Result<Reply>>> pipeline(
      std::vector<Command> commands) = 0;
  /// The node that serves `key` now (a single server: itself).
  virtual std::optional<NodeAddress> node_for_key(std::string_view key) const = 0;
  virtual bool connected() const = 0;

  /// call("SET", key, value): command() with the arguments spelled inline. Builds the Command
  /// outside the coroutine: GCC 12 cannot keep an initializer_list's backing array alive across
  /// a co_await ("array used as initializer"), so never write co_await command({...}).
  template <class... Args>
  boost::asio::awaitable<Result<Reply>> call(const Args&... args) {
    return command(Command{std::string(args)...});
  }
};

}  // namespace chaosd
