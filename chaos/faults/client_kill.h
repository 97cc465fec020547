#pragma once
// client_kill: the node drops client connections, like a network blip or a server-side kill
// (CLIENT KILL ID for every client of a `type` and/or whose name matches `name_pattern`, a glob).
// It never kills its own connection, nor redis-chaosd's own clients (names "redis-chaosd:*")
// unless include_chaosd = true. Clients reconnect by themselves: revert is a no-op (there is
// nothing to undo), and the record keeps how many clients were killed.
//
//   [[experiments]]
//   fault = "client_kill"
//   params = { type = "normal", name_pattern = "app-*" }

#include <string>

#include "chaos/registry.h"

namespace chaosd {

struct ClientKillParams {
  std::string type;          // "normal", "pubsub", "replica", "master"; empty: any
  std::string name_pattern;  // glob on the client name; empty: any
  bool include_chaosd = false;
};

class ClientKillFault final : public Fault {
 public:
  explicit ClientKillFault(ClientKillParams params, int64_t killed = 0)
      : params_(std::move(params)), killed_(killed) {}
  const std::string& type() const override;
  boost::asio::awaitable<Status> inject(FaultContext& ctx) override;
  /// A no-op: killed connections cannot be given back; clients reconnect by themselves.
  boost::asio::awaitable<Status> revert(FaultContext& ctx) override;
  nlohmann::json record() const override;
  int64_t killed() const { return killed_; }

 private:
  ClientKillParams params_;
  int64_t killed_ = 0;
};

FaultType client_kill_fault_type();

}  // namespace chaosd
