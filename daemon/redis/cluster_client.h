#pragma once
// A client for a Redis Cluster: routes each command to the primary serving its key's slot, keeps
// one RedisConnection per node (opened on first use) and follows the cluster's redirects:
//   MOVED       -> the slot has a new owner: update that slot now, refresh the whole map in the
//                  background, retry at the new owner;
//   ASK         -> the key is mid-migration: send ASKING + the command to the given node as one
//                  pipeline on one connection (so nothing can slip between them); the map is not
//                  touched because the slot still belongs to the old owner;
//   TRYAGAIN,   -> retried with exponential backoff, a bounded number of times;
//   CLUSTERDOWN
//   connection  -> refresh the map and retry once (not on timeouts: the command may have run).
// See docs/cluster.md.
//
// Thread-safety: none; use from the io_context thread that owns it. Destroying the client while
// one of its commands is in flight makes that command complete with ErrorCode::cancelled.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/duration.h"
#include "daemon/redis/connection.h"
#include "daemon/redis/slot_map.h"
#include "daemon/util/clock.h"
#include "daemon/util/result.h"

namespace chaosd {

struct ClusterEndpoint {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
};

struct ClusterOptions {
  /// MOVED/ASK followed for one command before giving up (a bound against redirect loops).
  int max_redirects = 5;
  /// Tries for one command that keeps getting TRYAGAIN or CLUSTERDOWN.
  int max_tries = 5;
  Duration retry_backoff_initial = std::chrono::milliseconds(10);
  Duration retry_backoff_max = std::chrono::milliseconds(200);
  /// refresh() does nothing when the last refresh ended more recently than this: a burst of
  /// MOVED replies during a resharding must not turn into a burst of CLUSTER SHARDS.
  Duration min_refresh_interval = std::chrono::milliseconds(100);
};

/// The delay before try number `tries_done + 1`: initial * 2^(tries_done - 1), capped at max.
Duration cluster_retry_delay(const ClusterOptions& options, int tries_done);

/// What the client has seen, for probes that watch a resharding or a failover.
struct ClusterCounters {
  uint64_t moved = 0;
  uint64_t ask = 0;
  uint64_t try_again = 0;
  uint64_t cluster_down = 0;
  uint64_t connection_errors = 0;  // commands retried after a connection error
  uint64_t refreshes = 0;          // slot maps fetched successfully
};

/// Routes a command to the node serving `value` directly, e.g. for keyless commands that must go
/// to one shard. Distinct from a key index, so command(args, HashSlot{42}) cannot be misread.
struct HashSlot {
  uint16_t value = 0;
};

class ClusterClient {
 public:
  /// `seeds`: where to ask for the slot map first; any node of the cluster will do. `base`:
  /// options for every node connection (host and port are replaced per node).
  ClusterClient(boost::asio::any_io_executor executor, std::vector<ClusterEndpoint> seeds,
                ConnectionOptions base, ClusterOptions options = {});
  ~ClusterClient();
  ClusterClient(const ClusterClient&) = delete;
  ClusterClient& operator=(const ClusterClient&) = delete;

  /// Fetches the slot map (CLUSTER SHARDS, or CLUSTER SLOTS before Redis 7) from a known node or
  /// a seed. Rate-limited (see ClusterOptions::min_refresh_interval); concurrent callers share
  /// one fetch. start() is the same call, named for the first one.
  boost::asio::awaitable<Status> refresh();
  boost::asio::awaitable<Status> start() { return refresh(); }

  /// Runs `args` on the primary serving the slot of args[key_index] (default: the first
  /// argument after the command name, as in GET key / SET key value).
  boost::asio::awaitable<Result<Reply>> command(Command args, size_t key_index = 1);
  /// Runs `args` on the primary serving `slot`.
  boost::asio::awaitable<Result<Reply>> command(Command args, HashSlot slot);
  /// call("SET", key, value): command() with the arguments inline, key at index 1. Builds the
  /// Command outside any coroutine (GCC 12, see RedisConnection::call).
  template <class... Args>
  boost::asio::awaitable<Result<Reply>> call(const Args&... args) {
    return command(Command{std::string(args)...}, size_t{1});
  }

  using PrimaryVisitor =
      std::function<boost::asio::awaitable<Status>(const ClusterNode&, RedisConnection&)>;
  /// Calls `visit` for each primary serving at least one slot, one after the other (e.g. SCAN
  /// cleanup across the cluster). Stops at and returns the first error.
  boost::asio::awaitable<Status> for_each_primary(PrimaryVisitor visit);

  /// The primary the map currently names for `slot`; nullopt when the slot is unassigned.
  std::optional<ClusterNode> node_for_slot(uint16_t slot) const;
  /// Every node in the map, primaries first, with role and health.
  std::vector<ClusterNode> nodes() const { return map_.nodes(); }
  std::vector<ClusterNode> primaries() const;
  const SlotMap& slot_map() const { return map_; }
  const ClusterCounters& counters() const { return counters_; }
  /// The pooled connection to host:port, created (not yet connected) on first use.
  std::shared_ptr<RedisConnection> connection(const std::string& host, uint16_t port);

 private:
  boost::asio::awaitable<Result<Reply>> route(Command args, uint16_t slot);
  boost::asio::awaitable<Status> fetch_and_install();
  boost::asio::awaitable<Result<SlotMap>> fetch_map(RedisConnection& conn);
  /// Starts a refresh in the background (MOVED, CLUSTERDOWN) without making the caller wait.
  void schedule_refresh();
  void prune_connections();
  std::vector<ClusterEndpoint> refresh_candidates() const;

  boost::asio::any_io_executor executor_;
  std::vector<ClusterEndpoint> seeds_;
  ConnectionOptions base_;
  ClusterOptions options_;
  SlotMap map_;
  std::map<std::string, std::shared_ptr<RedisConnection>> connections_;  // by "host:port"
  bool refreshing_ = false;
  bool refresh_scheduled_ = false;
  bool cluster_shards_unsupported_ = false;  // learned once: the server predates Redis 7
  SteadyTime last_refresh_end_{};
  std::optional<Status> last_refresh_status_;
  boost::asio::steady_timer refresh_waiters_;  // expires never; cancelled when a refresh ends
  ClusterCounters counters_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace chaosd
