#pragma once
// What the chaos engine needs to know about a target's topology, read live before a fault:
// CLUSTER NODES (who is primary, who replicates whom, who is failing, which slots each primary
// owns and which slots are MIGRATING/IMPORTING) or, for a standalone node, INFO replication.
// The parser is pure and unit-testable; read_topology() does the I/O.
//
// A node shows its own MIGRATING/IMPORTING slots only in its own ("myself") line, so
// read_topology() asks every reachable primary and merges what each says of itself.
//
// Thread-safety: none; read_topology() runs on the executor's thread.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/redis/connection.h"
#include "daemon/util/result.h"

namespace chaosd {

struct ViewNode {
  std::string id;
  std::string address;  // "host:port" (the cluster bus port and hostname cut off)
  bool myself = false;
  bool primary = false;
  bool failing = false;         // "fail" or "fail?" (or a disconnected link)
  std::string primary_id;       // replicas: the id of their primary; primaries: empty
  std::vector<uint16_t> slots;  // owned slots (primaries), ascending
  std::vector<std::pair<uint16_t, std::string>> migrating;  // [slot->-id]: slot, target id
  std::vector<std::pair<uint16_t, std::string>> importing;  // [slot-<-id]: slot, source id
};

struct ClusterView {
  std::vector<ViewNode> nodes;

  const ViewNode* by_id(std::string_view id) const;
  const ViewNode* by_address(std::string_view address) const;
  /// The id of the shard `node` belongs to: its own id for a primary, its primary's for a replica.
  std::string shard_of(const ViewNode& node) const;
  /// Primaries that own at least one slot.
  std::vector<const ViewNode*> serving_primaries() const;
  /// The replicas of the primary `primary_id`.
  std::vector<const ViewNode*> replicas_of(std::string_view primary_id) const;
  /// The primary that owns `slot`, or null.
  const ViewNode* owner_of(uint16_t slot) const;
  /// "slot 42 MIGRATING on 127.0.0.1:7000 to <id>" for every slot in flight; empty when none.
  std::vector<std::string> slots_in_flight() const;
};

/// Parses the text of CLUSTER NODES. Errors name the line that did not parse.
Result<ClusterView> parse_cluster_nodes(std::string_view text);

/// The topology around one node. `cluster` is set when the node runs in cluster mode.
struct Topology {
  std::optional<ClusterView> cluster;
  /// Standalone only: the address of the node's primary ("host:port" from INFO replication) for
  /// a replica, else the node's own address.
  std::string standalone_primary;
};

/// CLUSTER NODES from the first reachable of `nodes` ("host:port"; `base` gives AUTH and
/// timeouts), then CLUSTER NODES from every other reachable primary for its in-flight slots.
/// A node with cluster support disabled gives a standalone Topology from its INFO replication.
/// An error only when no node answers at all.
boost::asio::awaitable<Result<Topology>> read_topology(boost::asio::any_io_executor executor,
                                                       ConnectionOptions base,
                                                       std::vector<std::string> nodes);

/// "host:port" -> {host, port}; nullopt when it is not one. An IPv6 host comes bracketed
/// ("[::1]:6379", as config/config.cpp writes node addresses) and is returned without brackets,
/// ready to connect to.
std::optional<std::pair<std::string, uint16_t>> split_address(std::string_view address);

}  // namespace chaosd
