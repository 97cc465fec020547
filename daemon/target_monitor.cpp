#include "daemon/target_monitor.h"

#include <spdlog/spdlog.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "chaos/cluster_view.h"
#include "daemon/redis/info.h"
#include "daemon/redis/slot_map.h"

namespace chaosd {
namespace asio = boost::asio;
using std::chrono::steady_clock;

TargetMonitor::TargetMonitor(asio::any_io_executor executor, const TargetConfig& target,
                             ConnectionOptions options, Duration interval, OnCheck on_check)
    : target_(target),
      redis_(executor, options),
      options_(options),
      interval_(interval),
      on_check_(std::move(on_check)),
      timer_(executor),
      done_(executor) {
  if (target.kind == TargetKind::cluster) {
    std::vector<ClusterEndpoint> seeds;
    for (const auto& seed : target.seeds) seeds.push_back({seed.host, seed.port});
    cluster_ = std::make_unique<ClusterClient>(executor, seeds, options_);
  }
}

void TargetMonitor::start() {
  loop_done_ = false;
  asio::co_spawn(timer_.get_executor(), loop(),
                 asio::bind_cancellation_slot(stop_signal_.slot(), [this](std::exception_ptr) {
                   loop_done_ = true;
                   done_.cancel();
                 }));
}

asio::awaitable<void> TargetMonitor::stop() {
  stopping_ = true;
  if (loop_done_) co_return;
  timer_.cancel();
  stop_signal_.emit(asio::cancellation_type::terminal);
  done_.expires_after(std::chrono::seconds(5));
  boost::system::error_code ignored;
  while (!loop_done_) {
    co_await done_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    if (done_.expiry() <= steady_clock::now()) break;
  }
}

asio::awaitable<void> TargetMonitor::loop() {
  while (!stopping_) {
    co_await check();
    if (stopping_) break;
    timer_.expires_after(std::chrono::duration_cast<steady_clock::duration>(interval_));
    boost::system::error_code ec;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<void> TargetMonitor::check() {
  bool was_up = health_.up;
  auto started = steady_clock::now();
  auto pong = co_await redis_.call("PING");
  health_.checked = true;
  health_.last_check = std::chrono::system_clock::now();
  if (pong) {
    health_.ping_seconds = std::chrono::duration<double>(steady_clock::now() - started).count();
    health_.last_error.clear();
    // Role and version change rarely: refresh them every tenth check and after a reconnect.
    if (checks_ % 10 == 0 || redis_.reconnects() != health_.connects) {
      health_.connects = redis_.reconnects();
      auto info = co_await redis_.call("INFO", "server");
      if (info) health_.redis_version = info_field(info.value().str(), "redis_version");
      auto replication = co_await redis_.call("INFO", "replication");
      if (replication) health_.role = info_field(replication.value().str(), "role");
    }
  } else {
    health_.last_error = pong.error().describe();
  }
  ++checks_;
  if (target_.kind == TargetKind::standalone) {
    health_.up = pong.ok();
  } else {
    std::vector<NodeHealth> nodes = co_await list_nodes();
    for (auto& node : nodes) co_await check_node(node);
    health_.nodes = std::move(nodes);
    health_.up = pong.ok() && judge_up(health_.nodes);
  }
  if (was_up != health_.up) {
    if (health_.up) {
      spdlog::info("target {} is up ({}:{})", target_.name, target_.host, target_.port);
    } else {
      spdlog::warn("target {} is down: {}", target_.name,
                   health_.last_error.empty() ? "a node it needs is down" : health_.last_error);
    }
  }
  on_check_(target_.name, health_);
}

asio::awaitable<std::vector<NodeHealth>> TargetMonitor::list_nodes() {
  std::vector<NodeHealth> nodes;
  const std::string primary = NodeAddress{target_.host, target_.port}.to_string();
  if (target_.kind == TargetKind::regions) {
    for (const auto& region : target_.regions) {
      nodes.push_back({.address = region.address.to_string(),
                       .role = region.writable ? "primary" : "replica",
                       .region = region.name});
    }
  } else if (target_.kind == TargetKind::replicated) {
    nodes.push_back({.address = primary, .role = "primary"});
    std::vector<NodeAddress> replicas = target_.replicas;
    if (replicas.empty()) {
      auto info = co_await redis_.call("INFO", "replication");
      if (info) replicas = replicas_from_info(info.value().str());
    }
    for (const auto& r : replicas) nodes.push_back({.address = r.to_string(), .role = "replica"});
  } else if (target_.kind == TargetKind::cluster && cluster_) {
    if (checks_ % 10 == 1 || cluster_->nodes().empty()) (void)co_await cluster_->refresh();
    const SlotMap& map = cluster_->slot_map();
    for (size_t i = 0; i < map.shards().size(); ++i) {
      const Shard& shard = map.shards()[i];
      NodeHealth primary_health{.address = shard.primary.address(), .role = "primary"};
      for (const auto& range : map.slot_ranges(i)) {
        if (!primary_health.slots.empty()) primary_health.slots += ",";
        primary_health.slots += std::to_string(range.first) + "-" + std::to_string(range.last);
      }
      nodes.push_back(std::move(primary_health));
      for (const auto& replica : shard.replicas) {
        nodes.push_back({.address = replica.address(), .role = "replica"});
      }
    }
  }
  co_return nodes;
}

RedisConnection* TargetMonitor::connection_to(const std::string& address) {
  auto& slot = node_connections_[address];
  if (!slot) {
    auto parts = split_address(address);
    if (!parts) return nullptr;
    ConnectionOptions options = options_;
    options.host = parts->first;
    options.port = parts->second;
    slot = std::make_unique<RedisConnection>(timer_.get_executor(), options);
  }
  return slot.get();
}

asio::awaitable<void> TargetMonitor::check_node(NodeHealth& node) {
  RedisConnection* connection = connection_to(node.address);
  if (connection == nullptr) {
    // A server's own report (CLUSTER SHARDS, INFO replication) named it: say so, do not throw.
    node.up = false;
    node.last_error = "\"" + node.address + "\" is not host:port";
    co_return;
  }
  auto started = steady_clock::now();
  auto pong = co_await connection->call("PING");
  node.up = pong.ok();
  if (pong) {
    node.ping_seconds = std::chrono::duration<double>(steady_clock::now() - started).count();
  } else {
    node.last_error = pong.error().describe();
  }
}

bool TargetMonitor::judge_up(const std::vector<NodeHealth>& nodes) const {
  // Up means the target can serve writes: every primary answers (a cluster needs all of its
  // primaries for full slot coverage). Replicas being down shows in the node list, not here.
  bool any_primary = false;
  for (const auto& node : nodes) {
    if (node.role != "primary") continue;
    any_primary = true;
    if (!node.up) return false;
  }
  return any_primary || target_.kind == TargetKind::replicated;
}

}  // namespace chaosd
