#include "chaos/faults/reshard.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "chaos/cluster_view.h"
#include "config/params.h"
#include "config/toml_reader.h"
#include "daemon/redis/cluster_client.h"
#include "daemon/redis/slot_migration.h"

namespace chaosd {
namespace {

namespace asio = boost::asio;

std::string own_address(const FaultContext& ctx) {
  return ctx.connection.host + ":" + std::to_string(ctx.connection.port);
}

std::vector<std::string> sources_for(const FaultContext& ctx,
                                     const std::vector<PlannedSlotMove>& moves) {
  std::vector<std::string> out = {own_address(ctx)};
  out.insert(out.end(), ctx.target_nodes.begin(), ctx.target_nodes.end());
  for (const auto& move : moves) {
    out.push_back(move.from);
    out.push_back(move.to);
  }
  return out;
}

asio::awaitable<Result<ClusterView>> read_view(const FaultContext& ctx,
                                               const std::vector<PlannedSlotMove>& moves) {
  ConnectionOptions options = fault_connection_options(ctx, "reshard");
  std::vector<std::string> sources = sources_for(ctx, moves);
  auto read = read_topology(ctx.executor, options, sources);
  auto topology = co_await std::move(read);
  if (!topology) co_return Error{topology.error().code, "reshard: " + topology.error().message};
  if (!topology.value().cluster) {
    co_return Error{ErrorCode::invalid_argument,
                    "reshard: target \"" + ctx.target + "\" is not a cluster (node " +
                        own_address(ctx) + " has cluster support disabled)"};
  }
  co_return std::move(*topology.value().cluster);
}

ClusterNode cluster_node(const std::string& address, const std::string& id) {
  ClusterNode node;
  auto parts = split_address(address);
  if (parts) {
    node.host = parts->first;
    node.port = parts->second;
  }
  node.id = id;
  node.primary = true;
  return node;
}

// One slot from `from` to `to` with move_slot (it re-reads the node ids itself).
asio::awaitable<Status> move_one(ClusterClient& cluster, uint16_t slot, const std::string& from,
                                 const std::string& to) {
  ClusterNode source = cluster_node(from, "");
  ClusterNode target = cluster_node(to, "");
  SlotMigrationOptions options;
  auto move = move_slot(cluster, slot, source, target, options);
  auto moved = co_await std::move(move);
  if (!moved) co_return Error{moved.error().code, "reshard: " + moved.error().message};
  for (const auto& warning : moved.value().warnings) {
    spdlog::warn("reshard: slot {}: {} (it learns the new owner by gossip)", slot, warning);
  }
  co_return Ok{};
}

const ViewNode* in_flight_peer(const ClusterView& view, uint16_t slot,
                               const ViewNode** owner_side) {
  // A slot MIGRATING on its owner (to a peer) or IMPORTING on a peer (from anyone).
  for (const auto& node : view.nodes) {
    for (const auto& [s, peer] : node.migrating) {
      if (s != slot) continue;
      *owner_side = &node;
      return view.by_id(peer);
    }
  }
  for (const auto& node : view.nodes) {
    for (const auto& [s, peer] : node.importing) {
      if (s != slot) continue;
      *owner_side = view.owner_of(slot);
      return &node;
    }
  }
  return nullptr;
}

}  // namespace

const std::string& ReshardFault::type() const {
  static const std::string kType = "reshard";
  return kType;
}

std::vector<std::string> ReshardFault::affected_nodes(const FaultContext& ctx) const {
  if (moves_.empty()) return {own_address(ctx)};
  return {moves_.front().from, moves_.front().to};
}

asio::awaitable<Status> ReshardFault::prepare(FaultContext& ctx) {
  moves_.clear();
  auto view = co_await read_view(ctx, moves_);
  if (!view) co_return view.error();
  const ClusterView& v = view.value();
  auto usable = [](const ViewNode* n) { return n != nullptr && n->primary && !n->failing; };
  const ViewNode* from = nullptr;
  const ViewNode* to = nullptr;
  if (!params_.from.empty()) {
    from = v.by_address(params_.from);
    if (!usable(from) || from->slots.empty()) {
      co_return Error{ErrorCode::invalid_argument,
                      "reshard: from = \"" + params_.from +
                          "\" is not a healthy primary serving slots in this cluster"};
    }
  } else {
    for (const ViewNode* n : v.serving_primaries()) {
      if (usable(n) && (from == nullptr || n->slots.size() > from->slots.size())) from = n;
    }
  }
  if (!params_.to.empty()) {
    to = v.by_address(params_.to);
    if (!usable(to)) {
      co_return Error{
          ErrorCode::invalid_argument,
          "reshard: to = \"" + params_.to + "\" is not a healthy primary of this cluster"};
    }
  } else {
    for (const auto& n : v.nodes) {
      if (!usable(&n) || (from != nullptr && n.id == from->id)) continue;
      if (to == nullptr || n.slots.size() < to->slots.size()) to = &n;
    }
  }
  if (from == nullptr || to == nullptr || from->id == to->id) {
    co_return Error{ErrorCode::invalid_argument,
                    "reshard: needs two distinct healthy primaries (from and to)"};
  }
  // The source's highest slots that are not in flight.
  for (auto it = from->slots.rbegin();
       it != from->slots.rend() && static_cast<int64_t>(moves_.size()) < params_.slots; ++it) {
    const ViewNode* owner_side = nullptr;
    if (in_flight_peer(v, *it, &owner_side) != nullptr) continue;
    moves_.push_back(PlannedSlotMove{.slot = *it,
                                     .from = from->address,
                                     .from_id = from->id,
                                     .to = to->address,
                                     .to_id = to->id});
  }
  if (static_cast<int64_t>(moves_.size()) < params_.slots || moves_.size() >= from->slots.size()) {
    const size_t has = from->slots.size();
    moves_.clear();
    co_return Error{ErrorCode::invalid_argument, "reshard: " + std::to_string(params_.slots) +
                                                     " slots cannot move from " + from->address +
                                                     ", which serves " + std::to_string(has) +
                                                     " (it must keep at least one)"};
  }
  co_return Ok{};
}

asio::awaitable<Status> ReshardFault::inject(FaultContext& ctx) {
  if (moves_.empty()) co_return Error{ErrorCode::internal, "reshard: inject before prepare"};
  std::vector<ClusterEndpoint> seeds;
  for (const auto& address : sources_for(ctx, moves_)) {
    auto parts = split_address(address);
    if (parts) seeds.push_back(ClusterEndpoint{parts->first, parts->second});
  }
  ClusterClient cluster(ctx.executor, seeds, fault_connection_options(ctx, type()));
  auto started = co_await cluster.start();
  if (!started) co_return Error{started.error().code, "reshard: " + started.error().message};
  for (const auto& move : moves_) {
    auto moved = co_await move_one(cluster, move.slot, move.from, move.to);
    if (!moved) co_return moved;
  }
  co_return Ok{};
}

asio::awaitable<Status> ReshardFault::revert(FaultContext& ctx) {
  if (moves_.empty()) co_return Ok{};  // prepare never completed: nothing moved
  auto view = co_await read_view(ctx, moves_);
  if (!view) co_return view.error();
  std::vector<ClusterEndpoint> seeds;
  for (const auto& address : sources_for(ctx, moves_)) {
    auto parts = split_address(address);
    if (parts) seeds.push_back(ClusterEndpoint{parts->first, parts->second});
  }
  ClusterClient cluster(ctx.executor, seeds, fault_connection_options(ctx, type()));
  auto started = co_await cluster.start();
  if (!started) co_return Error{started.error().code, "reshard: " + started.error().message};
  // The last move first: the reverse of inject.
  for (auto it = moves_.rbegin(); it != moves_.rend(); ++it) {
    const PlannedSlotMove& move = *it;
    const ViewNode* owner = view.value().owner_of(move.slot);
    const ViewNode* owner_side = nullptr;
    const ViewNode* peer = in_flight_peer(view.value(), move.slot, &owner_side);
    std::string owner_address = owner != nullptr ? owner->address : std::string();
    if (peer != nullptr && owner_side != nullptr) {
      // An interrupted move: finish it (its keys may be on both sides; SETSLOT STABLE would
      // strand those already migrated), then the slot comes home below if it must.
      spdlog::warn("reshard: slot {} was left in flight from {} to {}; finishing that move",
                   move.slot, owner_side->address, peer->address);
      auto finished = co_await move_one(cluster, move.slot, owner_side->address, peer->address);
      if (!finished) co_return finished;
      owner_address = peer->address;
    }
    if (!params_.move_back || owner_address == move.from) continue;
    if (owner_address.empty()) {
      co_return Error{ErrorCode::internal, "reshard: slot " + std::to_string(move.slot) +
                                               " has no owner in the cluster; cannot move it back "
                                               "to " +
                                               move.from};
    }
    auto back = co_await move_one(cluster, move.slot, owner_address, move.from);
    if (!back) co_return back;
  }
  co_return Ok{};
}

nlohmann::json ReshardFault::record() const {
  nlohmann::json moves = nlohmann::json::array();
  for (const auto& move : moves_) {
    moves.push_back({{"slot", move.slot},
                     {"from", move.from},
                     {"from_id", move.from_id},
                     {"to", move.to},
                     {"to_id", move.to_id}});
  }
  return {{"type", type()},
          {"params",
           {{"slots", params_.slots},
            {"from", params_.from},
            {"to", params_.to},
            {"move_back", params_.move_back}}},
          {"state", {{"moves", moves}}}};
}

FaultType reshard_fault_type() {
  return FaultType{
      .type = "reshard",
      .summary = "move N slots between cluster primaries (live, MIGRATE); moved back on revert",
      .create = [](const toml::table& table, const std::string& key_path,
                   const std::string& file) -> std::unique_ptr<Fault> {
        ParamReader params(table, key_path, file);
        ReshardParams p;
        p.slots = params.get_int("slots", p.slots, 1, ReshardFault::kMaxSlots);
        p.from = params.get_string("from", "");
        p.to = params.get_string("to", "");
        p.move_back = params.get_bool("move_back", p.move_back);
        params.finish();
        for (const auto* address : {&p.from, &p.to}) {
          if (!address->empty() && !split_address(*address)) {
            throw ConfigError(location_of(table.source(), file),
                              key_path + (address == &p.from ? ".from" : ".to"),
                              "\"" + *address + "\" is not a node address (use \"host:port\")");
          }
        }
        if (!p.from.empty() && p.from == p.to) {
          throw ConfigError(location_of(table.source(), file), key_path + ".to",
                            "to must be another primary than from");
        }
        return std::make_unique<ReshardFault>(p);
      },
      .restore = [](const nlohmann::json& record) -> Result<std::unique_ptr<Fault>> {
        const auto& params = record.at("params");
        ReshardParams p;
        p.slots = params.at("slots").get<int64_t>();
        p.from = params.at("from").get<std::string>();
        p.to = params.at("to").get<std::string>();
        p.move_back = params.at("move_back").get<bool>();
        std::vector<PlannedSlotMove> moves;
        for (const auto& m : record.at("state").at("moves")) {
          int slot = m.at("slot").get<int>();
          if (slot < 0 || slot > 16383) {
            return Error{ErrorCode::invalid_argument, "reshard record: slot out of range"};
          }
          PlannedSlotMove move{.slot = static_cast<uint16_t>(slot),
                               .from = m.at("from").get<std::string>(),
                               .from_id = m.at("from_id").get<std::string>(),
                               .to = m.at("to").get<std::string>(),
                               .to_id = m.at("to_id").get<std::string>()};
          if (!split_address(move.from) || !split_address(move.to)) {
            return Error{ErrorCode::invalid_argument, "reshard record: bad node address"};
          }
          moves.push_back(std::move(move));
        }
        return std::unique_ptr<Fault>(std::make_unique<ReshardFault>(p, std::move(moves)));
      },
  };
}

}  // namespace chaosd
