#pragma once
// The parts of the invalidation probe (probes/invalidation.h) that play one caching service: a
// data connection with CLIENT TRACKING ON REDIRECT to its own subscriber connection (RESP2: the
// server publishes the keys to invalidate on `__redis__:invalidate`), an in-process cache that
// drops a key when its invalidation arrives, and the cascade: when a key this service owns is
// invalidated, it reads the key's new value and rewrites the key's dependents with it.
//
// Everything runs on the loop thread; the subscriber's messages are posted to it by the Link.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "daemon/redis/connection.h"
#include "daemon/util/clock.h"

namespace chaosd {

class TrackingService;

/// One round: the dependency trees whose roots the probe invalidates at once, and what each
/// service saw of them. Lives in the probe's frame; services point to it only while it runs.
struct InvalidationRound {
  struct Node {
    std::string key;
    std::vector<int> children;
    int owner = 0;          // the service that rewrites this node's dependents when it changes
    bool cascaded = false;  // its owner has taken the cascade up
    std::vector<std::optional<SteadyTime>> received;  // per service: first invalidation seen
  };

  std::vector<Node> nodes;
  std::vector<int> roots;
  std::unordered_map<std::string, int> index;  // key -> node
  std::vector<TrackingService*> services;
  std::string new_value;     // what the roots (and so, by the cascade, every node) become
  std::string value_ttl_ms;  // PX of every write
  bool armed = false;        // the roots' write is under way: invalidations count from now
  SteadyTime written{};      // the roots' write was sent
  SteadyTime deadline{};     // written + max_wait
  size_t expected = 0;       // services x nodes: every service read every node
  size_t received = 0;
  bool cancelled = false;
  std::optional<std::string> error;

  bool complete() const { return received >= expected; }
  bool over() const;  // complete, past the deadline, failed or cancelled: workers stop
  void on_received();
  void fail(const TrackingService& service, const Error& e);
};

class TrackingService : public std::enable_shared_from_this<TrackingService> {
 public:
  /// `options` point at the node serving the probe's keys; its client_name is the base of the
  /// two connections' names ("<base>:service<i>" and "<base>:service<i>:invalidations").
  TrackingService(boost::asio::any_io_executor executor, int index, ConnectionOptions options);

  /// Opens fresh connections: CLIENT ID on the subscriber, SUBSCRIBE __redis__:invalidate (and
  /// its confirmation), then CLIENT TRACKING ON REDIRECT <id> on the data connection.
  boost::asio::awaitable<Status> start();

  /// True while tracking and the invalidation channel are both in place. The first time either
  /// is found gone (subscriber link dropped, data connection replaced) the service stops caching
  /// and flushes its cache, as a correct RESP2 client must, and stays broken until start().
  bool healthy();
  /// Broken since start() (for the run's notes).
  bool lost() const { return lost_; }
  int index() const { return index_; }
  const ConnectionOptions& options() const { return options_; }

  /// Reads `keys` through the cache. Misses go to the server in one pipeline; a fetched value
  /// is cached only if no invalidation of its key (or flush) arrived while the GET was in flight:
  /// the reply and the invalidation travel on different connections, either may come first.
  boost::asio::awaitable<Result<std::vector<std::optional<std::string>>>> read(
      const std::vector<std::string>& keys);

  /// Routes invalidations of `round`'s keys into it (nullptr: none) and forgets the cache.
  void attach(InvalidationRound* round);

  /// Until the round is over: rewrites the dependents of each owned node whose invalidation
  /// arrived (GET the node's new value, SET each child to it).
  boost::asio::awaitable<void> cascade(InvalidationRound& round);

  void wake() { wake_.cancel(); }

 private:
  /// Pipelines `commands` on the data connection, once more if the connection dropped under them.
  boost::asio::awaitable<std::vector<Result<Reply>>> send(std::vector<Command> commands);
  void on_message(const Reply& message);
  void invalidate(const std::string& key, SteadyTime at);
  void flush();

  boost::asio::any_io_executor executor_;
  int index_;
  ConnectionOptions options_;
  std::unique_ptr<RedisConnection> data_;
  std::unique_ptr<RedisConnection> subscriber_;
  uint64_t data_reconnects_ = 0;
  bool healthy_ = false;
  bool lost_ = false;
  bool confirmed_ = false;  // the SUBSCRIBE confirmation arrived
  InvalidationRound* round_ = nullptr;
  std::unordered_map<std::string, std::optional<std::string>> cache_;
  std::unordered_map<std::string, uint64_t> epochs_;  // per key being read: invalidations seen
  uint64_t flush_epoch_ = 0;
  std::deque<int> cascades_;        // owned nodes whose dependents are to be rewritten
  boost::asio::steady_timer wake_;  // the cascade worker's (and start()'s) wait
};

}  // namespace chaosd
