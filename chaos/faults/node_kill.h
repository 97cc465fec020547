#pragma once
// node_kill: the node dies (like a crash) through the context's NodeSupervisor (the lab's
// processes; later SHUTDOWN NOSAVE or a configured kill/restart command for external targets).
// Revert restarts it; NodeSupervisor::restart() of a running node succeeds, so revert is
// idempotent. No params.
//
//   [[experiments]]
//   fault = "node_kill"
//   target = "replicated"

#include <string>

#include "chaos/registry.h"

namespace chaosd {

class NodeKillFault final : public Fault {
 public:
  explicit NodeKillFault(std::string node = {}) : node_(std::move(node)) {}
  const std::string& type() const override;
  boost::asio::awaitable<Status> prepare(FaultContext& ctx) override;
  boost::asio::awaitable<Status> inject(FaultContext& ctx) override;
  boost::asio::awaitable<Status> revert(FaultContext& ctx) override;
  nlohmann::json record() const override;

 private:
  std::string node_;  // the NodeSupervisor's name of the node, kept in the record
};

FaultType node_kill_fault_type();

}  // namespace chaosd
