#include "chaos/faults/memory_pressure.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>

#include "config/params.h"
#include "config/toml_reader.h"

namespace chaosd {
namespace {

namespace asio = boost::asio;

const std::vector<std::string> kPolicies = {"noeviction",      "allkeys-lru",  "allkeys-lfu",
                                            "allkeys-random",  "volatile-lru", "volatile-lfu",
                                            "volatile-random", "volatile-ttl"};
constexpr int kFillBatch = 16;  // 1 MiB of ballast per round trip
constexpr int kDeleteBatch = 512;

Error redis_failure(const std::string& what, const Error& error) {
  return Error{error.code, "memory_pressure: " + what + ": " + error.message};
}

// `name` is a literal: no std::string temporary in the caller's co_await (GCC 12).
asio::awaitable<Result<std::string>> config_get(RedisConnection& conn, const char* name) {
  Command get{"CONFIG", "GET", name};
  auto reply = co_await conn.command(std::move(get));
  if (!reply) co_return redis_failure(std::string("CONFIG GET ") + name, reply.error());
  const auto& elements = reply.value().elements();
  if (!reply.value().is_array() || elements.size() != 2 || !elements[1].is_string()) {
    co_return Error{ErrorCode::protocol, std::string("memory_pressure: CONFIG GET ") + name +
                                             " answered " + reply.value().debug_string()};
  }
  co_return elements[1].str();
}

asio::awaitable<Status> config_set(RedisConnection& conn, const char* name,
                                   const std::string& value) {
  Command set{"CONFIG", "SET", name, value};
  auto reply = co_await conn.command(std::move(set));
  if (!reply)
    co_return redis_failure(std::string("CONFIG SET ") + name + " " + value, reply.error());
  co_return Ok{};
}

asio::awaitable<Result<int64_t>> used_memory(RedisConnection& conn) {
  Command info{"INFO", "memory"};
  auto reply = co_await conn.command(std::move(info));
  if (!reply) co_return redis_failure("INFO memory", reply.error());
  const std::string& text = reply.value().str();
  const std::string field = "used_memory:";
  auto at = text.find(field);
  if (at == std::string::npos) {
    co_return Error{ErrorCode::protocol, "memory_pressure: INFO memory has no used_memory"};
  }
  co_return static_cast<int64_t>(std::strtoll(text.c_str() + at + field.size(), nullptr, 10));
}

}  // namespace

const std::string& MemoryPressureFault::type() const {
  static const std::string kType = "memory_pressure";
  return kType;
}

asio::awaitable<Status> MemoryPressureFault::prepare(FaultContext& ctx) {
  RedisConnection conn(ctx.executor, fault_connection_options(ctx, type()));
  auto maxmemory = co_await config_get(conn, "maxmemory");
  if (!maxmemory) co_return maxmemory.error();
  auto policy = co_await config_get(conn, "maxmemory-policy");
  if (!policy) co_return policy.error();
  state_.original_maxmemory = maxmemory.value();
  state_.original_policy = policy.value();
  state_.ballast_prefix = ctx.key_prefix + ":chaos:ballast:" + ctx.fault_id + ":";
  state_.ballast_keys = 0;
  if (params_.fill_ratio > 0) {
    int64_t limit = params_.maxmemory_bytes.value_or(
        static_cast<int64_t>(std::strtoll(state_.original_maxmemory.c_str(), nullptr, 10)));
    if (limit <= 0) {
      co_return Error{ErrorCode::invalid_argument,
                      "memory_pressure: fill_ratio needs a maxmemory (the server's is 0 = "
                      "unlimited): set the maxmemory param too"};
    }
    auto used = co_await used_memory(conn);
    if (!used) co_return used.error();
    const double wanted =
        params_.fill_ratio * static_cast<double>(limit) - static_cast<double>(used.value());
    if (wanted > 0) {
      state_.ballast_keys = std::min<int64_t>(
          kMaxBallastKeys,
          static_cast<int64_t>(std::ceil(wanted / static_cast<double>(kBallastValueBytes))));
    }
  }
  state_.captured = true;
  co_return Ok{};
}

asio::awaitable<Status> MemoryPressureFault::inject(FaultContext& ctx) {
  if (!state_.captured) {
    co_return Error{ErrorCode::internal, "memory_pressure: inject before prepare"};
  }
  RedisConnection conn(ctx.executor, fault_connection_options(ctx, type()));
  if (!params_.policy.empty()) {
    auto set = co_await config_set(conn, "maxmemory-policy", params_.policy);
    if (!set) co_return set;
  }
  if (params_.maxmemory_bytes) {
    const std::string bytes = std::to_string(*params_.maxmemory_bytes);
    auto set = co_await config_set(conn, "maxmemory", bytes);
    if (!set) co_return set;
  }
  const std::string value(kBallastValueBytes, 'b');
  const auto ttl =
      std::chrono::duration_cast<std::chrono::milliseconds>(ctx.duration) + std::chrono::minutes(1);
  const std::string ttl_ms = std::to_string(ttl.count());
  // The watchdog cannot revert a fault still in inject(): the fill stops at the fault's own
  // deadline (a slow link, a huge ballast), and the watchdog reverts right after.
  const auto fill_deadline = std::chrono::steady_clock::now() + ctx.duration;
  for (int64_t next = 0; next < state_.ballast_keys;) {
    if (std::chrono::steady_clock::now() >= fill_deadline) {
      spdlog::warn(
          "memory_pressure {}: the fault's duration ran out while filling ({} of {} "
          "ballast keys)",
          ctx.fault_id, state_.ballast_written, state_.ballast_keys);
      break;
    }
    std::vector<Command> batch;
    for (int i = 0; i < kFillBatch && next < state_.ballast_keys; ++i, ++next) {
      batch.push_back(
          Command{"SET", state_.ballast_prefix + std::to_string(next), value, "PX", ttl_ms});
    }
    auto replies = co_await conn.pipeline(std::move(batch));
    for (const auto& reply : replies) {
      if (!reply) {
        // An OOM reply is the pressure we wanted; anything else ends the fill too.
        spdlog::info("memory_pressure {}: ballast stops at {} keys: {}", ctx.fault_id,
                     state_.ballast_written, reply.error().message);
        co_return Ok{};
      }
      ++state_.ballast_written;
    }
  }
  co_return Ok{};
}

asio::awaitable<Status> MemoryPressureFault::revert(FaultContext& ctx) {
  if (!state_.captured) co_return Ok{};  // prepare never completed: nothing was changed
  RedisConnection conn(ctx.executor, fault_connection_options(ctx, type()));
  // Deletes first: under noeviction with a tiny maxmemory, DEL still works and frees memory. One
  // key per UNLINK: on a cluster node the ballast keys hash to many slots (CROSSSLOT otherwise).
  std::optional<Error> unlink_error;
  for (int64_t next = 0; next < state_.ballast_keys && !unlink_error;) {
    std::vector<Command> batch;
    for (int i = 0; i < kDeleteBatch && next < state_.ballast_keys; ++i, ++next) {
      batch.push_back(Command{"UNLINK", state_.ballast_prefix + std::to_string(next)});
    }
    auto replies = co_await conn.pipeline(std::move(batch));
    for (const auto& reply : replies) {
      if (reply) continue;
      // A replica (READONLY) or a key of another node's slot (MOVED) never took ballast there.
      const std::string& message = reply.error().message;
      if (message.rfind("READONLY", 0) == 0 || message.rfind("MOVED", 0) == 0) continue;
      unlink_error = reply.error();
      break;
    }
  }
  // The original limits come back whatever happened to the ballast: they matter most.
  auto maxmemory = co_await config_set(conn, "maxmemory", state_.original_maxmemory);
  auto policy = co_await config_set(conn, "maxmemory-policy", state_.original_policy);
  if (!maxmemory) co_return maxmemory;
  if (!policy) co_return policy;
  if (unlink_error) co_return redis_failure("UNLINK ballast", *unlink_error);
  co_return Ok{};
}

nlohmann::json MemoryPressureFault::record() const {
  nlohmann::json params = {{"policy", params_.policy}, {"fill_ratio", params_.fill_ratio}};
  params["maxmemory_bytes"] =
      params_.maxmemory_bytes ? nlohmann::json(*params_.maxmemory_bytes) : nlohmann::json();
  nlohmann::json state = {{"captured", state_.captured},
                          {"original_maxmemory", state_.original_maxmemory},
                          {"original_policy", state_.original_policy},
                          {"ballast_prefix", state_.ballast_prefix},
                          {"ballast_keys", state_.ballast_keys},
                          {"ballast_written", state_.ballast_written}};
  return {{"type", type()}, {"params", params}, {"state", state}};
}

FaultType memory_pressure_fault_type() {
  return FaultType{
      .type = "memory_pressure",
      .summary = "lower maxmemory (and/or set a policy, fill ballast keys); restores CONFIG",
      .create = [](const toml::table& table, const std::string& key_path,
                   const std::string& file) -> std::unique_ptr<Fault> {
        ParamReader params(table, key_path, file);
        MemoryPressureParams p;
        int64_t maxmemory =
            params.get_bytes("maxmemory", 0, 1024 * 1024, int64_t{1} << 40);  // 1 MiB .. 1 TiB
        if (maxmemory > 0) p.maxmemory_bytes = maxmemory;
        p.policy = params.get_string("policy", "", kPolicies);
        p.fill_ratio = params.get_double("fill_ratio", 0, 0, 0.99);
        params.finish();
        if (!p.maxmemory_bytes && p.policy.empty() && p.fill_ratio == 0) {
          throw ConfigError(location_of(table.source(), file), key_path,
                            "memory_pressure needs maxmemory, policy or fill_ratio (e.g. "
                            "maxmemory = \"8mb\")");
        }
        return std::make_unique<MemoryPressureFault>(p);
      },
      .restore = [](const nlohmann::json& record) -> Result<std::unique_ptr<Fault>> {
        const auto& params = record.at("params");
        const auto& state = record.at("state");
        MemoryPressureParams p;
        if (!params.at("maxmemory_bytes").is_null()) {
          p.maxmemory_bytes = params.at("maxmemory_bytes").get<int64_t>();
        }
        p.policy = params.at("policy").get<std::string>();
        p.fill_ratio = params.at("fill_ratio").get<double>();
        MemoryPressureState s;
        s.captured = state.at("captured").get<bool>();
        s.original_maxmemory = state.at("original_maxmemory").get<std::string>();
        s.original_policy = state.at("original_policy").get<std::string>();
        s.ballast_prefix = state.at("ballast_prefix").get<std::string>();
        s.ballast_keys = state.at("ballast_keys").get<int64_t>();
        s.ballast_written = state.at("ballast_written").get<int64_t>();
        if (s.captured && (s.original_maxmemory.empty() || s.original_policy.empty())) {
          return Error{ErrorCode::invalid_argument,
                       "memory_pressure record: the original maxmemory/policy is missing"};
        }
        if (s.ballast_keys < 0 || s.ballast_keys > MemoryPressureFault::kMaxBallastKeys) {
          return Error{ErrorCode::invalid_argument,
                       "memory_pressure record: ballast_keys out of range"};
        }
        return std::unique_ptr<Fault>(std::make_unique<MemoryPressureFault>(p, s));
      },
  };
}

}  // namespace chaosd
