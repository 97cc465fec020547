#pragma once
// Moving one hash slot of a Redis Cluster to another primary while clients keep using it, the way
// `redis-cli --cluster reshard` does:
//   1. CLUSTER SETSLOT <slot> IMPORTING <source id>   on the target,
//   2. CLUSTER SETSLOT <slot> MIGRATING <target id>   on the source,
//   3. CLUSTER GETKEYSINSLOT + MIGRATE ... KEYS k1..kn (a batch at a time) until the slot is empty
//      on the source; meanwhile the source answers ASK for keys it no longer has, so clients that
//      follow ASK keep reading and writing every key,
//   4. CLUSTER SETSLOT <slot> NODE <target id> on the target (it bumps its config epoch, so its
//      claim wins in gossip), then on the source, then on every other primary.
// Used by the `reshard` probe (which moves its own slot and back, through a SlotMover) and meant
// for the chaos engine's reshard fault.
//
// Thread-safety: none; run on the io_context thread that owns the ClusterClient.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/duration.h"
#include "daemon/redis/cluster_client.h"
#include "daemon/util/clock.h"
#include "daemon/util/result.h"

namespace chaosd {

struct SlotMigrationOptions {
  int keys_per_batch = 100;                            // keys per MIGRATE (and per GETKEYSINSLOT)
  Duration migrate_timeout = std::chrono::seconds(2);  // MIGRATE's own I/O timeout
  Duration deadline = std::chrono::seconds(30);        // bound on the whole move
};

/// What one move did.
struct SlotMove {
  uint16_t slot = 0;
  ClusterNode from, to;  // with their node ids
  int64_t keys_moved = 0;
  int batches = 0;  // MIGRATE commands sent
  SteadyTime started{}, finished{};
  /// Primaries other than source and target that refused SETSLOT NODE: they learn the new
  /// owner by gossip instead, and answer MOVED to the old owner until then.
  std::vector<std::string> warnings;
};

/// Moves `slot` from `from` (its current owner) to `to` (another primary), with connections from
/// `cluster`'s pool (so they carry its AUTH and client name). MIGRATE authenticates with the
/// pool's username/password. When the source refuses MIGRATING (e.g. it does not own the slot),
/// the target's IMPORTING is undone; a failure after that leaves the slot mid-migration and the
/// error says in which state (`redis-cli --cluster fix` repairs it). Every command is bounded by
/// the connection's command timeout (MIGRATE by `migrate_timeout` more) and the whole move by
/// `deadline`.
boost::asio::awaitable<Result<SlotMove>> move_slot(ClusterClient& cluster, uint16_t slot,
                                                   ClusterNode from, ClusterNode to,
                                                   SlotMigrationOptions options);

/// A slot move that runs to its end even when the coroutine that started it is cancelled (a
/// probe's timeout, a daemon stop): stopping halfway would leave the slot MIGRATING/IMPORTING.
/// The move runs in a coroutine of its own that keeps the SlotMover alive; callers wait for it
/// with wait_idle(), which they may abandon. It owns a ClusterClient for its admin connections, so
/// that a blocking MIGRATE never queues behind other traffic on a shared connection.
///
/// Create it with std::make_shared (start() needs shared_from_this). The io_context must outlive
/// it. Thread-safety: none; use on the io_context thread.
class SlotMover : public std::enable_shared_from_this<SlotMover> {
 public:
  SlotMover(boost::asio::any_io_executor executor, std::vector<ClusterEndpoint> seeds,
            ConnectionOptions options);

  /// The admin client: its slot map tells where a slot is and which primaries exist.
  ClusterClient& cluster() { return cluster_; }
  bool busy() const { return busy_; }
  /// Starts move_slot() in the background. The previous move must have ended (check busy()).
  void start(uint16_t slot, ClusterNode from, ClusterNode to, SlotMigrationOptions options);
  /// Waits until no move is running; false when the caller was cancelled meanwhile (the move
  /// goes on).
  boost::asio::awaitable<bool> wait_idle();
  /// The result of the last move that ended; nullopt while one runs or before the first.
  const std::optional<Result<SlotMove>>& outcome() const { return outcome_; }

 private:
  static boost::asio::awaitable<void> run(std::shared_ptr<SlotMover> self, uint16_t slot,
                                          ClusterNode from, ClusterNode to,
                                          SlotMigrationOptions options);

  boost::asio::any_io_executor executor_;
  ClusterClient cluster_;
  boost::asio::steady_timer idle_;  // expires never; cancelled when a move ends
  bool busy_ = false;
  std::optional<Result<SlotMove>> outcome_;
};

/// A primary of `cluster`'s map other than `owner` (the next one after it in map order), or
/// nullopt when the cluster has a single primary.
std::optional<ClusterNode> other_primary(const ClusterClient& cluster, const ClusterNode& owner);

}  // namespace chaosd
