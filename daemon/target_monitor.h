#pragma once
// Health of one target, checked every second on its own connection (CLIENT SETNAME
// redis-chaosd:health) so that target_up does not depend on any probe's schedule.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "config/config.h"
#include "daemon/redis/cluster_client.h"
#include "daemon/redis/connection.h"

namespace chaosd {

/// One node of a target as last checked.
struct NodeHealth {
  std::string address;  // host:port
  std::string role;     // primary / replica
  std::string region;   // regions targets
  std::string slots;    // cluster primaries: "0-5460"
  bool up = false;
  double ping_seconds = 0;
  std::string last_error;
};

struct TargetHealth {
  bool checked = false;  // false until the first check ended
  bool up = false;
  double ping_seconds = 0;
  std::string last_error;
  std::string role;           // from INFO replication: master / slave
  std::string redis_version;  // from INFO server
  WallTime last_check{};
  uint64_t connects = 0;
  std::vector<NodeHealth> nodes;  // every node of a replicated, cluster or regions target
};

class TargetMonitor {
 public:
  using OnCheck = std::function<void(const std::string& target, const TargetHealth&)>;
  TargetMonitor(boost::asio::any_io_executor executor, const TargetConfig& target,
                ConnectionOptions options, Duration interval, OnCheck on_check);

  void start();
  /// Stops checking; returns once the check loop has ended.
  boost::asio::awaitable<void> stop();
  const TargetHealth& health() const { return health_; }
  const TargetConfig& target() const { return target_; }

 private:
  boost::asio::awaitable<void> loop();
  boost::asio::awaitable<void> check();
  /// Which nodes the target has right now, with their roles (not yet checked).
  boost::asio::awaitable<std::vector<NodeHealth>> list_nodes();
  boost::asio::awaitable<void> check_node(NodeHealth& node);
  /// Null when `address` is not host:port.
  RedisConnection* connection_to(const std::string& address);
  bool judge_up(const std::vector<NodeHealth>& nodes) const;

  TargetConfig target_;
  RedisConnection redis_;  // the main endpoint: primary, first seed, writable region
  ConnectionOptions options_;
  std::unique_ptr<ClusterClient> cluster_;  // cluster targets: the slot map names the nodes
  std::map<std::string, std::unique_ptr<RedisConnection>> node_connections_;  // by host:port
  Duration interval_;
  OnCheck on_check_;
  TargetHealth health_;
  boost::asio::steady_timer timer_;
  boost::asio::steady_timer done_;
  boost::asio::cancellation_signal stop_signal_;
  bool stopping_ = false;
  bool loop_done_ = true;
  int checks_ = 0;
};

}  // namespace chaosd
