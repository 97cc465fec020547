#include "daemon/redis/slot_migration.h"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace chaosd {
namespace asio = boost::asio;
using std::chrono::steady_clock;

namespace {

std::string ms(Duration d) {
  return std::to_string(
      std::max<int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count(), 1));
}

// Runs `args` on `conn` and turns anything but +OK into an error naming the step and the node.
// Callers build `args` as a named local first (GCC 12 and temporaries in co_await expressions).
asio::awaitable<Status> expect_ok(RedisConnection& conn, Command args, const char* step) {
  auto reply = co_await conn.command(std::move(args));
  const std::string where = std::string(step) + " on " + conn.options().host + ":" +
                            std::to_string(conn.options().port) + ": ";
  if (!reply) co_return Error{reply.error().code, where + reply.error().message};
  if (!reply.value().is_ok_status()) {
    co_return Error{ErrorCode::protocol, where + reply.value().debug_string()};
  }
  co_return Ok{};
}

asio::awaitable<Result<std::string>> node_id(RedisConnection& conn) {
  auto reply = co_await conn.call("CLUSTER", "MYID");
  if (!reply) co_return reply.error();
  if (!reply.value().is_string() || reply.value().str().empty()) {
    co_return Error{ErrorCode::protocol, "CLUSTER MYID: " + reply.value().debug_string()};
  }
  co_return reply.value().str();
}

// MIGRATE <host> <port> "" 0 <timeout> [AUTH2 user pass | AUTH pass] KEYS k1..kn
Command migrate_command(const ClusterNode& to, const ConnectionOptions& auth,
                        const SlotMigrationOptions& options, const std::vector<Reply>& keys) {
  Command migrate{"MIGRATE", to.host, std::to_string(to.port),
                  "",        "0",     ms(options.migrate_timeout)};
  if (auth.password && !auth.username.empty()) {
    migrate.insert(migrate.end(), {"AUTH2", auth.username, *auth.password});
  } else if (auth.password) {
    migrate.insert(migrate.end(), {"AUTH", *auth.password});
  }
  migrate.push_back("KEYS");
  for (const auto& key : keys) migrate.push_back(key.str());
  return migrate;
}

// Undoes our SETSLOT IMPORTING on the target when the source refused to migrate (best effort).
asio::awaitable<void> roll_back(RedisConnection& target, const std::string& slot) {
  Command stable{"CLUSTER", "SETSLOT", slot, "STABLE"};
  (void)co_await target.command(std::move(stable));
}

Command setslot(const std::string& slot, const char* state, const std::string& node_id) {
  return Command{"CLUSTER", "SETSLOT", slot, state, node_id};
}

}  // namespace

asio::awaitable<Result<SlotMove>> move_slot(ClusterClient& cluster, uint16_t slot, ClusterNode from,
                                            ClusterNode to, SlotMigrationOptions options) {
  SlotMove move;
  move.slot = slot;
  move.started = steady_clock::now();
  const auto deadline =
      move.started + std::chrono::duration_cast<SteadyTime::duration>(options.deadline);
  const std::string s = std::to_string(slot);
  const std::string what = "moving slot " + s + " from " + from.address() + " to " + to.address();
  if (from.address() == to.address()) {
    co_return Error{ErrorCode::invalid_argument, what + ": source and target are the same node"};
  }
  auto source = cluster.connection(from.host, from.port);
  auto target = cluster.connection(to.host, to.port);

  // Node ids from the nodes themselves: a map learned from MOVED replies has none.
  auto from_id = co_await node_id(*source);
  if (!from_id) co_return Error{from_id.error().code, what + ": " + from_id.error().message};
  auto to_id = co_await node_id(*target);
  if (!to_id) co_return Error{to_id.error().code, what + ": " + to_id.error().message};
  from.id = from_id.value();
  to.id = to_id.value();
  move.from = from;
  move.to = to;

  Command import_cmd = setslot(s, "IMPORTING", from.id);
  Status importing = co_await expect_ok(*target, std::move(import_cmd), "SETSLOT IMPORTING");
  if (!importing) {
    co_return Error{importing.error().code, what + ": " + importing.error().message};
  }
  Command migrate_cmd = setslot(s, "MIGRATING", to.id);
  Status migrating = co_await expect_ok(*source, std::move(migrate_cmd), "SETSLOT MIGRATING");
  if (!migrating) {
    co_await roll_back(*target, s);
    co_return Error{migrating.error().code, what + ": " + migrating.error().message};
  }

  const std::string stuck = "; slot " + s + " left MIGRATING on " + from.address() +
                            " and IMPORTING on " + to.address() +
                            " (redis-cli --cluster fix repairs it)";
  const ConnectionOptions& auth = source->options();
  const Duration migrate_wait = options.migrate_timeout + auth.command_timeout;
  const std::string batch = std::to_string(std::max(options.keys_per_batch, 1));
  for (;;) {
    if (steady_clock::now() >= deadline) {
      co_return Error{ErrorCode::timeout,
                      what + ": not done after " + format_duration(options.deadline) + stuck};
    }
    auto keys = co_await source->call("CLUSTER", "GETKEYSINSLOT", s, batch);
    if (!keys) {
      co_return Error{keys.error().code, what + ": GETKEYSINSLOT: " + keys.error().message + stuck};
    }
    if (keys.value().elements().empty()) break;
    Command migrate = migrate_command(to, auth, options, keys.value().elements());
    auto migrated = co_await source->command(std::move(migrate), migrate_wait);
    if (!migrated) {
      // Not rolled back: part of a batch may already be on the target, and STABLE would strand
      // those keys where no client is sent.
      co_return Error{migrated.error().code,
                      what + ": MIGRATE: " + migrated.error().message + stuck};
    }
    move.keys_moved += static_cast<int64_t>(keys.value().elements().size());
    ++move.batches;
  }

  // The target first: it bumps its config epoch, so its claim wins over stale gossip.
  Command claim = setslot(s, "NODE", to.id);
  Status claimed = co_await expect_ok(*target, std::move(claim), "SETSLOT NODE (target)");
  if (!claimed)
    co_return Error{claimed.error().code, what + ": " + claimed.error().message + stuck};
  Command release = setslot(s, "NODE", to.id);
  Status released = co_await expect_ok(*source, std::move(release), "SETSLOT NODE (source)");
  if (!released) {
    co_return Error{released.error().code, what + ": " + released.error().message + "; slot " + s +
                                               " left MIGRATING on " + from.address() +
                                               " (the target owns it)"};
  }
  std::vector<ClusterNode> others = cluster.primaries();
  for (const auto& node : others) {
    if (node.address() == from.address() || node.address() == to.address()) continue;
    auto conn = cluster.connection(node.host, node.port);
    Command tell = setslot(s, "NODE", to.id);
    Status told = co_await expect_ok(*conn, std::move(tell), "SETSLOT NODE");
    if (!told) move.warnings.push_back(told.error().message);
  }
  move.finished = steady_clock::now();
  co_return move;
}

SlotMover::SlotMover(asio::any_io_executor executor, std::vector<ClusterEndpoint> seeds,
                     ConnectionOptions options)
    : executor_(executor),
      cluster_(executor, std::move(seeds), std::move(options)),
      idle_(executor) {
  idle_.expires_at(SteadyTime::max());
}

void SlotMover::start(uint16_t slot, ClusterNode from, ClusterNode to,
                      SlotMigrationOptions options) {
  busy_ = true;
  outcome_.reset();
  // No cancellation slot is bound: the caller's cancellation does not reach the move.
  asio::co_spawn(executor_, run(shared_from_this(), slot, std::move(from), std::move(to), options),
                 asio::detached);
}

asio::awaitable<void> SlotMover::run(std::shared_ptr<SlotMover> self, uint16_t slot,
                                     ClusterNode from, ClusterNode to,
                                     SlotMigrationOptions options) {
  auto moved = co_await move_slot(self->cluster_, slot, std::move(from), std::move(to), options);
  self->outcome_.emplace(std::move(moved));
  self->busy_ = false;
  self->idle_.cancel();
}

asio::awaitable<bool> SlotMover::wait_idle() {
  while (busy_) {
    boost::system::error_code ignored;
    co_await idle_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) co_return false;
  }
  co_return true;
}

std::optional<ClusterNode> other_primary(const ClusterClient& cluster, const ClusterNode& owner) {
  std::vector<ClusterNode> primaries = cluster.primaries();
  auto it = std::find_if(primaries.begin(), primaries.end(),
                         [&](const ClusterNode& n) { return n.address() == owner.address(); });
  if (primaries.size() < 2) return std::nullopt;
  if (it == primaries.end()) return primaries.front();
  ++it;
  return it == primaries.end() ? primaries.front() : *it;
}

}  // namespace chaosd
