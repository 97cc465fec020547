#include "chaos/faults/node_kill.h"

#include "config/params.h"

namespace chaosd {

namespace asio = boost::asio;

const std::string& NodeKillFault::type() const {
  static const std::string kType = "node_kill";
  return kType;
}

asio::awaitable<Status> NodeKillFault::prepare(FaultContext& ctx) {
  if (ctx.nodes == nullptr) {
    co_return Error{ErrorCode::invalid_argument, "node_kill: no node supervisor for target \"" +
                                                     ctx.target +
                                                     "\" (only lab nodes can be killed so far)"};
  }
  if (ctx.node.empty()) co_return Error{ErrorCode::invalid_argument, "node_kill: no node given"};
  node_ = ctx.node;
  co_return Ok{};
}

asio::awaitable<Status> NodeKillFault::inject(FaultContext& ctx) {
  if (ctx.nodes == nullptr)
    co_return Error{ErrorCode::invalid_argument, "node_kill: no node supervisor"};
  auto killed = co_await ctx.nodes->kill(node_);
  if (!killed) co_return Error{killed.error().code, "node_kill: " + killed.error().message};
  co_return Ok{};
}

asio::awaitable<Status> NodeKillFault::revert(FaultContext& ctx) {
  if (node_.empty()) co_return Ok{};  // prepare never completed: nothing was killed
  if (ctx.nodes == nullptr) {
    co_return Error{ErrorCode::internal,
                    "node_kill: cannot restart node \"" + node_ + "\": no node supervisor"};
  }
  auto restarted = co_await ctx.nodes->restart(node_);
  if (!restarted) {
    co_return Error{restarted.error().code, "node_kill: restart: " + restarted.error().message};
  }
  co_return Ok{};
}

nlohmann::json NodeKillFault::record() const {
  return {{"type", type()}, {"params", nlohmann::json::object()}, {"state", {{"node", node_}}}};
}

FaultType node_kill_fault_type() {
  return FaultType{
      .type = "node_kill",
      .summary = "kill the node (like a crash); reverted by restarting it",
      .create = [](const toml::table& table, const std::string& key_path,
                   const std::string& file) -> std::unique_ptr<Fault> {
        ParamReader params(table, key_path, file);
        params.finish();
        return std::make_unique<NodeKillFault>();
      },
      .restore = [](const nlohmann::json& record) -> Result<std::unique_ptr<Fault>> {
        return std::unique_ptr<Fault>(
            std::make_unique<NodeKillFault>(record.at("state").at("node").get<std::string>()));
      },
  };
}

}  // namespace chaosd
