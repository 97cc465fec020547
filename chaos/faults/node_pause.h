#pragma once
// node_pause: the node stops answering for the fault's duration. CLIENT PAUSE <duration ms>
// ALL (every command waits) or WRITE (only writes wait). The pause is bounded by the server
// itself: it ends at its deadline even if the daemon dies.
//
// Revert is CLIENT UNPAUSE. In WRITE mode it takes effect at once. In ALL mode Redis (7.0) holds
// CLIENT UNPAUSE itself until the pause ends, so reverting early is not possible: revert waits
// (bounded: the pause's remaining time plus 5 s) until the server answers again.
//
//   [[experiments]]
//   fault = "node_pause"
//   duration = "3s"
//   params = { mode = "all" }

#include <string>

#include "chaos/registry.h"
#include "daemon/util/clock.h"

namespace chaosd {

struct NodePauseParams {
  std::string mode = "all";  // "all" or "write"
};

class NodePauseFault final : public Fault {
 public:
  static constexpr Duration kMaxPause = std::chrono::minutes(10);
  /// Redis 7.0 cannot end a PAUSE ALL early (UNPAUSE waits for it): a halt or abort would wait
  /// as long as the pause, so ALL is kept short.
  static constexpr Duration kMaxPauseAll = std::chrono::seconds(60);

  NodePauseFault(NodePauseParams params, int64_t pause_ends_unix_ms = 0)
      : params_(std::move(params)), pause_ends_unix_ms_(pause_ends_unix_ms) {}
  const std::string& type() const override;
  boost::asio::awaitable<Status> prepare(FaultContext& ctx) override;
  boost::asio::awaitable<Status> inject(FaultContext& ctx) override;
  boost::asio::awaitable<Status> revert(FaultContext& ctx) override;
  nlohmann::json record() const override;

 private:
  NodePauseParams params_;
  int64_t pause_ends_unix_ms_ = 0;  // wall time, so it survives a restart of the daemon
};

FaultType node_pause_fault_type();

}  // namespace chaosd
