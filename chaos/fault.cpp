#include "chaos/fault.h"

#include <chrono>
#include <cstdio>
#include <random>

namespace chaosd {

boost::asio::awaitable<Status> Fault::prepare(FaultContext& /*ctx*/) { co_return Ok{}; }

std::vector<std::string> Fault::affected_nodes(const FaultContext& ctx) const {
  return {ctx.connection.host + ":" + std::to_string(ctx.connection.port)};
}

ConnectionOptions fault_connection_options(const FaultContext& ctx, const std::string& type) {
  ConnectionOptions options = ctx.connection;
  options.client_name = "redis-chaosd:chaos:" + type;
  return options;
}

std::string new_fault_id() {
  static std::mt19937_64 random{std::random_device{}()};
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  char buffer[48];
  std::snprintf(buffer, sizeof(buffer), "f-%lld-%08x", static_cast<long long>(ms),
                static_cast<unsigned>(random() & 0xffffffffU));
  return buffer;
}

}  // namespace chaosd
