#pragma once
// Which node serves which of the 16384 cluster slots, built from CLUSTER SHARDS (Redis 7) or
// CLUSTER SLOTS (older servers), and the parsing of the cluster's redirect and retry errors.
// Everything here is pure (no I/O), so the parsers are unit-tested with hand-built replies.
//
// Thread-safety: none; a SlotMap is a value owned by one ClusterClient.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/redis/reply.h"
#include "daemon/util/result.h"

namespace chaosd {

struct ClusterNode {
  std::string id;  // the 40-hex node id; empty when only a MOVED told us about the node
  std::string host;
  uint16_t port = 0;
  bool primary = false;
  bool healthy = true;  // CLUSTER SHARDS "health": false for "failed" or "loading"
  std::string address() const { return host + ":" + std::to_string(port); }
};

/// Inclusive, as Redis prints them: {0, 5460}.
struct SlotRange {
  uint16_t first = 0;
  uint16_t last = 0;
  bool operator==(const SlotRange&) const = default;
};

struct Shard {
  ClusterNode primary;
  std::vector<ClusterNode> replicas;
};

class SlotMap {
 public:
  SlotMap();

  /// Adds a shard serving `ranges` (a later shard wins a slot listed twice) and returns its index.
  size_t add_shard(Shard shard, const std::vector<SlotRange>& ranges);
  /// Applies a MOVED redirect: `slot` is now served by the primary at host:port. A node the map
  /// does not know yet becomes a new shard without replicas until the next full refresh.
  void move_slot(uint16_t slot, const std::string& host, uint16_t port);

  /// nullptr when no shard serves `slot` (unassigned, or the map is empty).
  const Shard* shard_for_slot(uint16_t slot) const;
  const ClusterNode* primary_for_slot(uint16_t slot) const;
  /// The slots of shards()[index], merged into ranges.
  std::vector<SlotRange> slot_ranges(size_t shard_index) const;
  size_t covered_slots() const;
  bool empty() const { return shards_.empty(); }
  const std::vector<Shard>& shards() const { return shards_; }
  /// Every known node once (primaries first), with its role.
  std::vector<ClusterNode> nodes() const;

 private:
  std::vector<Shard> shards_;
  std::vector<int32_t> owner_;  // slot -> index into shards_, or -1
};

/// Parses a CLUSTER SHARDS reply (RESP2: each shard and node is a flat key/value array). Nodes
/// are addressed by "endpoint", then "ip", then `queried_host` (the node we asked) when the
/// server does not know its own address. Shards without a primary serve no slots.
Result<SlotMap> parse_cluster_shards(const Reply& reply, std::string_view queried_host);

/// Parses a CLUSTER SLOTS reply: [[first, last, [host, port, id, ...], replicas...], ...]. An
/// empty host means `queried_host` (Redis' own convention for "the node you are talking to").
Result<SlotMap> parse_cluster_slots(const Reply& reply, std::string_view queried_host);

/// The cluster errors a client must act on rather than return.
struct ClusterError {
  enum class Kind { none, moved, ask, try_again, cluster_down };
  Kind kind = Kind::none;
  uint16_t slot = 0;  // moved/ask
  std::string host;   // moved/ask; empty when Redis sent ":port" (same host as the connection)
  uint16_t port = 0;  // moved/ask
};

/// Classifies an error reply text: "MOVED 3999 127.0.0.1:6381", "ASK 3999 127.0.0.1:6381",
/// "TRYAGAIN ...", "CLUSTERDOWN ...". Anything else (or a malformed redirect) is Kind::none.
ClusterError classify_cluster_error(std::string_view message);

}  // namespace chaosd
