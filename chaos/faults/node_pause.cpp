#include "chaos/faults/node_pause.h"

#include <algorithm>
#include <chrono>

#include "config/params.h"

namespace chaosd {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;

int64_t unix_ms_now() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

const std::string& NodePauseFault::type() const {
  static const std::string kType = "node_pause";
  return kType;
}

asio::awaitable<Status> NodePauseFault::prepare(FaultContext& ctx) {
  auto pause = std::chrono::duration_cast<milliseconds>(ctx.duration);
  const Duration longest = params_.mode == "write" ? kMaxPause : kMaxPauseAll;
  if (pause <= milliseconds(0) || pause > longest) {
    co_return Error{ErrorCode::invalid_argument,
                    "node_pause: duration " + format_duration(ctx.duration) + " must be between " +
                        "1ms and " + format_duration(longest) + " in mode " + params_.mode +
                        (params_.mode == "write" ? ""
                                                 : " (Redis cannot end a PAUSE ALL early, so a "
                                                   "halt would wait that long)")};
  }
  // Journaled before the pause: a crash right after CLIENT PAUSE must still know when it ends.
  pause_ends_unix_ms_ = unix_ms_now() + pause.count();
  co_return Ok{};
}

asio::awaitable<Status> NodePauseFault::inject(FaultContext& ctx) {
  auto pause = std::chrono::duration_cast<milliseconds>(ctx.duration);
  RedisConnection conn(ctx.executor, fault_connection_options(ctx, type()));
  std::string mode = params_.mode == "write" ? "WRITE" : "ALL";
  Command command{"CLIENT", "PAUSE", std::to_string(pause.count()), mode};
  auto reply = co_await conn.command(std::move(command));
  if (!reply)
    co_return Error{reply.error().code, "node_pause: CLIENT PAUSE: " + reply.error().message};
  co_return Ok{};
}

asio::awaitable<Status> NodePauseFault::revert(FaultContext& ctx) {
  // In ALL mode the server holds CLIENT UNPAUSE until the pause is over: wait that long, bounded.
  int64_t remaining_ms = std::max<int64_t>(0, pause_ends_unix_ms_ - unix_ms_now());
  ConnectionOptions options = fault_connection_options(ctx, type());
  options.command_timeout = milliseconds(remaining_ms) + std::chrono::seconds(5);
  RedisConnection conn(ctx.executor, options);
  Command command{"CLIENT", "UNPAUSE"};
  auto reply = co_await conn.command(std::move(command));
  if (!reply) {
    co_return Error{reply.error().code, "node_pause: CLIENT UNPAUSE: " + reply.error().message};
  }
  co_return Ok{};
}

nlohmann::json NodePauseFault::record() const {
  return {{"type", type()},
          {"params", {{"mode", params_.mode}}},
          {"state", {{"pause_ends_unix_ms", pause_ends_unix_ms_}}}};
}

FaultType node_pause_fault_type() {
  return FaultType{
      .type = "node_pause",
      .summary = "CLIENT PAUSE ALL|WRITE for the fault's duration; reverted by CLIENT UNPAUSE",
      .create = [](const toml::table& table, const std::string& key_path,
                   const std::string& file) -> std::unique_ptr<Fault> {
        ParamReader params(table, key_path, file);
        NodePauseParams p;
        p.mode = params.get_string("mode", p.mode, {"all", "write"});
        params.finish();
        return std::make_unique<NodePauseFault>(p);
      },
      .restore = [](const nlohmann::json& record) -> Result<std::unique_ptr<Fault>> {
        NodePauseParams p;
        p.mode = record.at("params").at("mode").get<std::string>();
        if (p.mode != "all" && p.mode != "write") {
          return Error{ErrorCode::invalid_argument, "node_pause record: bad mode " + p.mode};
        }
        int64_t ends = record.at("state").at("pause_ends_unix_ms").get<int64_t>();
        return std::unique_ptr<Fault>(std::make_unique<NodePauseFault>(p, ends));
      },
  };
}

}  // namespace chaosd
