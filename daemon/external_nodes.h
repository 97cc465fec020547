#pragma once
// node_kill for nodes redis-chaosd did not start (a [[targets]] entry, not the lab). The node is
// killed by the target's kill_command, or by SHUTDOWN NOSAVE when none is set, and brought back
// by its restart_command, after which restart() waits until the node answers PING. Commands are
// argv templates ({host}, {port}, {node} = "host:port"), run without a shell and without blocking
// the loop, each bounded by kCommandTimeout. restart() of a node that answers PING does nothing,
// so a revert is idempotent.
//
//   [[targets]]
//   name = "staging"
//   address = "10.0.0.5:6379"
//   chaos_allowed = true
//   restart_command = ["systemctl", "restart", "redis-server@{port}"]

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "chaos/fault.h"
#include "config/config.h"

namespace chaosd {

class ExternalNodes final : public NodeSupervisor {
 public:
  static constexpr std::chrono::seconds kCommandTimeout{30};
  static constexpr std::chrono::seconds kRestartTimeout{30};  // until the node answers PING

  /// `target` must have a restart_command (the caller checks: without one, nothing can revert).
  ExternalNodes(boost::asio::any_io_executor executor, const TargetConfig& target);
  boost::asio::awaitable<Status> kill(const std::string& node) override;
  boost::asio::awaitable<Status> restart(const std::string& node) override;

 private:
  /// How to reach `node` ("host:port", as journaled); an error when it is not one.
  Result<ConnectionOptions> options_for(const std::string& node) const;
  boost::asio::awaitable<bool> answers_ping(const ConnectionOptions& options);

  boost::asio::any_io_executor executor_;
  TargetConfig target_;
};

/// The argv of a command template for `node` ("host:port").
std::vector<std::string> expand_node_command(const std::vector<std::string>& argv,
                                             const std::string& node);

}  // namespace chaosd
