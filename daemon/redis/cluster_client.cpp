#include "daemon/redis/cluster_client.h"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>
#include <set>

#include "daemon/redis/crc16.h"

namespace chaosd {
namespace asio = boost::asio;

namespace {

Error client_gone() { return Error{ErrorCode::cancelled, "cluster client destroyed"}; }

bool is_unknown_subcommand(const Error& error) {
  std::string text = error.message;
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return error.code == ErrorCode::redis_error &&
         text.find("unknown subcommand") != std::string::npos;
}

// ASKING only lets the next command on the same connection into an importing slot, so both go
// out in one pipeline: nothing another coroutine sends can land between them.
asio::awaitable<Result<Reply>> send_asking(RedisConnection& conn, Command args) {
  std::vector<Command> commands;
  commands.push_back(Command{"ASKING"});
  commands.push_back(std::move(args));
  std::vector<Result<Reply>> results = co_await conn.pipeline(std::move(commands));
  if (results.size() != 2) co_return Error{ErrorCode::internal, "ASKING pipeline lost a reply"};
  if (!results[0] && results[0].error().code == ErrorCode::redis_error) {
    co_return Error{ErrorCode::redis_error, "ASKING failed: " + results[0].error().message};
  }
  co_return std::move(results[1]);
}

asio::awaitable<void> sleep_for(Duration delay) {
  asio::steady_timer timer(co_await asio::this_coro::executor,
                           std::chrono::duration_cast<std::chrono::steady_clock::duration>(delay));
  boost::system::error_code ignored;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
}

}  // namespace

Duration cluster_retry_delay(const ClusterOptions& options, int tries_done) {
  Duration delay = options.retry_backoff_initial;
  for (int i = 1; i < tries_done && delay < options.retry_backoff_max; ++i) delay *= 2;
  return std::min(delay, options.retry_backoff_max);
}

ClusterClient::ClusterClient(asio::any_io_executor executor, std::vector<ClusterEndpoint> seeds,
                             ConnectionOptions base, ClusterOptions options)
    : executor_(std::move(executor)),
      seeds_(std::move(seeds)),
      base_(std::move(base)),
      options_(options),
      refresh_waiters_(executor_) {
  refresh_waiters_.expires_at(SteadyTime::max());
}

ClusterClient::~ClusterClient() {
  *alive_ = false;
  // A coroutine suspended in a command holds its connection (shared_ptr) while the connection's
  // link holds that coroutine's handler: closing every link completes those commands and breaks
  // the cycle, so nothing leaks when the client goes away mid-command.
  for (auto& [address, connection] : connections_) connection->reset("cluster client destroyed");
}

std::shared_ptr<RedisConnection> ClusterClient::connection(const std::string& host, uint16_t port) {
  std::string address = host + ":" + std::to_string(port);
  auto& conn = connections_[address];
  if (!conn) {
    ConnectionOptions node_options = base_;
    node_options.host = host;
    node_options.port = port;
    conn = std::make_shared<RedisConnection>(executor_, std::move(node_options));
  }
  return conn;
}

std::optional<ClusterNode> ClusterClient::node_for_slot(uint16_t slot) const {
  const ClusterNode* primary = map_.primary_for_slot(slot);
  if (primary == nullptr) return std::nullopt;
  return *primary;
}

std::vector<ClusterNode> ClusterClient::primaries() const {
  std::vector<ClusterNode> out;
  std::set<std::string> seen;
  for (size_t i = 0; i < map_.shards().size(); ++i) {
    const ClusterNode& primary = map_.shards()[i].primary;
    if (map_.slot_ranges(i).empty()) continue;  // serves nothing (failed, or emptied by MOVEDs)
    if (seen.insert(primary.address()).second) out.push_back(primary);
  }
  return out;
}

asio::awaitable<Result<Reply>> ClusterClient::command(Command args, size_t key_index) {
  if (key_index >= args.size()) {
    co_return Error{ErrorCode::internal,
                    "command has no key at index " + std::to_string(key_index)};
  }
  uint16_t slot = key_hash_slot(args[key_index]);
  co_return co_await route(std::move(args), slot);
}

asio::awaitable<Result<Reply>> ClusterClient::command(Command args, HashSlot slot) {
  if (slot.value >= kClusterSlots) {
    co_return Error{ErrorCode::internal, "slot " + std::to_string(slot.value) + " out of range"};
  }
  co_return co_await route(std::move(args), slot.value);
}

asio::awaitable<Result<Reply>> ClusterClient::route(Command args, uint16_t slot) {
  auto alive = alive_;
  if (args.empty()) co_return Error{ErrorCode::internal, "empty command"};
  if (map_.empty()) {
    Status status = co_await refresh();
    if (!*alive) co_return client_gone();
    if (!status) co_return status.error();
  }
  int redirects = 0;
  int tries = 0;
  bool connection_retry_used = false;
  std::optional<ClusterEndpoint> ask_target;
  for (;;) {
    ClusterEndpoint target;
    bool asking = ask_target.has_value();
    if (asking) {
      target = *ask_target;
      ask_target.reset();  // ASK is good for one command only
    } else if (const ClusterNode* primary = map_.primary_for_slot(slot)) {
      target = ClusterEndpoint{primary->host, primary->port};
    } else {
      // Unassigned in our map: any node answers MOVED (teaching us) or CLUSTERDOWN (retried).
      auto candidates = refresh_candidates();
      if (candidates.empty()) co_return Error{ErrorCode::disconnected, "no known cluster node"};
      target = candidates.front();
    }
    auto conn = connection(target.host, target.port);
    Command attempt = args;
    Result<Reply> reply = Error{};
    if (asking) {
      reply = co_await send_asking(*conn, std::move(attempt));
    } else {
      reply = co_await conn->command(std::move(attempt));
    }
    if (!*alive) co_return client_gone();
    if (reply) co_return reply;

    const Error& error = reply.error();
    if (error.code == ErrorCode::redis_error) {
      ClusterError cluster = classify_cluster_error(error.message);
      using Kind = ClusterError::Kind;
      if (cluster.kind == Kind::moved || cluster.kind == Kind::ask) {
        if (cluster.host.empty()) cluster.host = target.host;  // ":port" means the same host
        if (++redirects > options_.max_redirects) {
          co_return Error{ErrorCode::redis_error, "gave up after " +
                                                      std::to_string(options_.max_redirects) +
                                                      " redirects, last: " + error.message};
        }
        if (cluster.kind == Kind::moved) {
          ++counters_.moved;
          map_.move_slot(cluster.slot, cluster.host, cluster.port);
          // One MOVED usually means a whole range moved: learn the rest before it costs more.
          schedule_refresh();
        } else {
          ++counters_.ask;
          ask_target = ClusterEndpoint{cluster.host, cluster.port};
        }
        continue;
      }
      if (cluster.kind == Kind::try_again || cluster.kind == Kind::cluster_down) {
        if (cluster.kind == Kind::try_again) {
          ++counters_.try_again;
        } else {
          ++counters_.cluster_down;
          schedule_refresh();  // a failover may be under way: the next try may need a new owner
        }
        if (++tries >= options_.max_tries) {
          co_return Error{ErrorCode::redis_error,
                          error.message + " (gave up after " + std::to_string(tries) + " tries)"};
        }
        co_await sleep_for(cluster_retry_delay(options_, tries));
        if (!*alive) co_return client_gone();
        continue;
      }
      co_return reply;
    }
    // A timeout is not retried: the command may have run, and a probe must see the timeout.
    bool connection_error =
        error.code == ErrorCode::disconnected || error.code == ErrorCode::connect_failed;
    if (connection_error && !connection_retry_used) {
      connection_retry_used = true;
      ++counters_.connection_errors;
      Status refreshed = co_await refresh();  // failing is fine: we retry with what we have
      if (!*alive) co_return client_gone();
      (void)refreshed;
      continue;
    }
    co_return reply;
  }
}

asio::awaitable<Status> ClusterClient::for_each_primary(PrimaryVisitor visit) {
  auto alive = alive_;
  if (map_.empty()) {
    Status status = co_await refresh();
    if (!*alive) co_return client_gone();
    if (!status) co_return status;
  }
  std::vector<ClusterNode> targets = primaries();
  for (const auto& node : targets) {
    auto conn = connection(node.host, node.port);
    Status status = co_await visit(node, *conn);
    if (!*alive) co_return client_gone();
    if (!status) co_return status;
  }
  co_return Ok{};
}

asio::awaitable<Status> ClusterClient::refresh() {
  auto alive = alive_;
  if (refreshing_) {
    boost::system::error_code ignored;
    co_await refresh_waiters_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    if (!*alive) co_return client_gone();
    co_return last_refresh_status_.value_or(Status(Error{ErrorCode::internal, "refresh lost"}));
  }
  auto now = std::chrono::steady_clock::now();
  if (last_refresh_status_ && now - last_refresh_end_ < options_.min_refresh_interval) {
    co_return *last_refresh_status_;
  }
  refreshing_ = true;
  Status status = co_await fetch_and_install();
  if (!*alive) co_return client_gone();
  refreshing_ = false;
  last_refresh_end_ = std::chrono::steady_clock::now();
  last_refresh_status_ = status;
  refresh_waiters_.cancel();
  co_return status;
}

void ClusterClient::schedule_refresh() {
  if (refresh_scheduled_) return;
  refresh_scheduled_ = true;
  auto alive = alive_;
  // Not a member coroutine: it must not touch `this` once the client is gone.
  auto task = [](ClusterClient* self, std::shared_ptr<bool> alive) -> asio::awaitable<void> {
    // Wait out a refresh in flight and the rate limit, so that this one really fetches.
    for (;;) {
      if (self->refreshing_) {
        boost::system::error_code ignored;
        co_await self->refresh_waiters_.async_wait(
            asio::redirect_error(asio::use_awaitable, ignored));
        if (!*alive) co_return;
        continue;
      }
      auto ready_at = self->last_refresh_end_ + self->options_.min_refresh_interval;
      auto now = std::chrono::steady_clock::now();
      if (!self->last_refresh_status_ || now >= ready_at) break;
      co_await sleep_for(ready_at - now);
      if (!*alive) co_return;
    }
    self->refresh_scheduled_ = false;
    Status status = co_await self->refresh();
    (void)status;
  };
  asio::co_spawn(executor_, task(this, std::move(alive)), asio::detached);
}

asio::awaitable<Status> ClusterClient::fetch_and_install() {
  auto alive = alive_;
  std::vector<ClusterEndpoint> candidates = refresh_candidates();
  if (candidates.empty()) co_return Error{ErrorCode::disconnected, "no seed nodes configured"};
  std::string errors;
  ErrorCode last_code = ErrorCode::disconnected;
  for (const auto& endpoint : candidates) {
    auto conn = connection(endpoint.host, endpoint.port);
    Result<SlotMap> fetched = co_await fetch_map(*conn);
    if (!*alive) co_return client_gone();
    std::string address = endpoint.host + ":" + std::to_string(endpoint.port);
    if (fetched && fetched->covered_slots() > 0) {
      map_ = std::move(fetched).value();
      ++counters_.refreshes;
      prune_connections();
      co_return Ok{};
    }
    if (fetched) {
      errors += "; " + address + ": its slot map serves no slots";
    } else {
      errors += "; " + address + ": " + fetched.error().message;
      last_code = fetched.error().code;
    }
  }
  co_return Error{last_code, "no cluster node gave a slot map" + errors};
}

asio::awaitable<Result<SlotMap>> ClusterClient::fetch_map(RedisConnection& conn) {
  auto alive = alive_;
  std::string host = conn.options().host;
  if (!cluster_shards_unsupported_) {
    Result<Reply> shards = co_await conn.call("CLUSTER", "SHARDS");
    if (!*alive) co_return client_gone();
    if (shards) co_return parse_cluster_shards(shards.value(), host);
    if (!is_unknown_subcommand(shards.error())) co_return shards.error();
    cluster_shards_unsupported_ = true;  // Redis < 7: ask the old way from now on
  }
  Result<Reply> slots = co_await conn.call("CLUSTER", "SLOTS");
  if (!slots) co_return slots.error();
  co_return parse_cluster_slots(slots.value(), host);
}

std::vector<ClusterEndpoint> ClusterClient::refresh_candidates() const {
  // Nodes we already hold a live connection to answer fastest; a dead primary (the usual reason
  // to refresh) would cost a connect attempt, so it goes last among the known nodes.
  std::vector<ClusterEndpoint> connected, others;
  std::set<std::string> seen;
  auto add = [&](const std::string& host, uint16_t port) {
    std::string address = host + ":" + std::to_string(port);
    if (!seen.insert(address).second) return;
    auto it = connections_.find(address);
    bool live = it != connections_.end() && it->second->connected();
    (live ? connected : others).push_back(ClusterEndpoint{host, port});
  };
  for (const auto& node : map_.nodes()) add(node.host, node.port);
  for (const auto& seed : seeds_) add(seed.host, seed.port);
  connected.insert(connected.end(), others.begin(), others.end());
  return connected;
}

void ClusterClient::prune_connections() {
  // Nodes that left the cluster would otherwise keep reconnecting forever in a long-lived daemon.
  std::set<std::string> keep;
  for (const auto& node : map_.nodes()) keep.insert(node.address());
  for (const auto& seed : seeds_) keep.insert(seed.host + ":" + std::to_string(seed.port));
  std::erase_if(connections_, [&](const auto& entry) { return !keep.contains(entry.first); });
}

}  // namespace chaosd
