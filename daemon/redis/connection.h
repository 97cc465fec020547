#pragma once
// A logical connection to one Redis server that survives the server going away: commands are
// awaitable with a deadline, many may be in flight at once (pipelining), and a dead link is
// replaced on the next command after an exponential backoff (AUTH, SELECT and CLIENT SETNAME are
// replayed on every new link). It never blocks the loop and never throws on the data plane.
//
// Thread-safety: none; use from the io_context thread that owns it.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/duration.h"
#include "daemon/redis/link.h"
#include "daemon/redis/redis_client.h"
#include "daemon/redis/reply.h"
#include "daemon/util/result.h"

namespace chaosd {

struct ConnectionOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  std::string username;
  std::optional<std::string> password;
  int db = 0;
  std::string client_name;  // CLIENT SETNAME, e.g. "redis-chaosd:ttl"
  Duration connect_timeout = std::chrono::seconds(1);
  Duration command_timeout = std::chrono::seconds(1);
  Duration backoff_initial = std::chrono::milliseconds(100);
  Duration backoff_max = std::chrono::seconds(5);
};

class RedisConnection final : public RedisClient {
 public:
  RedisConnection(boost::asio::any_io_executor executor, ConnectionOptions options);
  ~RedisConnection() override;
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  /// Runs one command. A server error reply (-ERR ...) is returned as ErrorCode::redis_error.
  /// Fails fast with ErrorCode::disconnected while the server is down and backoff runs.
  boost::asio::awaitable<Result<Reply>> command(Command args) override;
  boost::asio::awaitable<Result<Reply>> command(Command args, Duration timeout);
  /// One server serves every key: the same as command().
  boost::asio::awaitable<Result<Reply>> command_for_key(Command args,
                                                        std::string route_key) override;

  /// Sends every command before awaiting any reply (one round trip). Results in order.
  boost::asio::awaitable<std::vector<Result<Reply>>> pipeline(
      std::vector<Command> commands) override;
  std::optional<NodeAddress> node_for_key(std::string_view key) const override;

  /// Puts this connection in pub/sub mode: SUBSCRIBE (or PSUBSCRIBE when `pattern`) `channels`
  /// and deliver each message reply to `on_message`. The subscription ends when the link dies;
  /// `subscribed()` tells whether it is still in place.
  boost::asio::awaitable<Status> subscribe(std::vector<std::string> channels, bool pattern,
                                           Link::MessageHandler on_message);
  bool subscribed() const;

  /// Connects now if not connected (honouring the backoff); no command is sent.
  boost::asio::awaitable<Status> ensure_connected();

  bool connected() const override { return link_ && link_->alive(); }
  const std::string& last_error() const { return last_error_; }
  const ConnectionOptions& options() const { return options_; }
  uint64_t reconnects() const { return reconnects_; }
  /// Drops the link; the next command reconnects (without waiting for the backoff).
  void reset(const std::string& reason);

 private:
  boost::asio::awaitable<Status> connect_once();
  boost::asio::awaitable<Status> handshake(Link& link);
  /// Sends `commands` on `link` (fails them at once when there is none) into `pendings`.
  void send(Link* link, std::span<const Command> commands,
            std::span<const std::shared_ptr<PendingCommand>> pendings);
  /// Sends every command of `commands`; their pending states share one allocation.
  std::vector<std::shared_ptr<PendingCommand>> start_all(Link* link,
                                                         std::span<const Command> commands,
                                                         Duration timeout);
  void on_link_death(const std::shared_ptr<Link>& link, const std::string& reason);
  void schedule_backoff(const std::string& reason);

  boost::asio::any_io_executor executor_;
  ConnectionOptions options_;
  std::shared_ptr<Link> link_;
  std::weak_ptr<Link> connecting_link_;  // the link being connected, so reset() can abort it
  bool connecting_ = false;
  bool subscribed_ = false;
  boost::asio::steady_timer connect_waiters_;  // expires never; cancelled when a connect ends
  SteadyTime next_attempt_{};
  Duration backoff_{};
  std::string last_error_;
  uint64_t reconnects_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

/// Awaits the reply of a started command (used by pipeline()).
boost::asio::awaitable<Result<Reply>> await_reply(std::shared_ptr<PendingCommand> pending,
                                                  boost::asio::any_io_executor executor);

}  // namespace chaosd
