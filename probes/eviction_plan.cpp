#include "probes/eviction_plan.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "daemon/redis/info.h"

namespace chaosd {
namespace asio = boost::asio;

namespace {

// Policies that evict the probe's keys: all of them, since every probe key has a TTL.
const std::vector<std::string> kEvictingPolicies = {
    "allkeys-lru",  "allkeys-lfu",     "allkeys-random", "volatile-lru",
    "volatile-lfu", "volatile-random", "volatile-ttl"};

std::string mib(int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return text;
}

asio::awaitable<Result<std::string>> config_get(ProbeContext& ctx, const char* name) {
  Command get{"CONFIG", "GET", name};
  auto reply = co_await ctx.redis.command_for_key(std::move(get), ctx.key_prefix);
  if (!reply) co_return reply.error();
  const auto& parts = reply.value().elements();
  if (parts.size() != 2) {
    co_return Error{ErrorCode::protocol, std::string("CONFIG GET ") + name + " returned " +
                                             reply.value().debug_string()};
  }
  co_return parts[1].str();
}

asio::awaitable<Result<std::string>> info(ProbeContext& ctx, const char* section) {
  Command get{"INFO", section};
  auto reply = co_await ctx.redis.command_for_key(std::move(get), ctx.key_prefix);
  if (!reply) co_return reply.error();
  co_return reply.value().str();
}

}  // namespace

std::variant<FillPlan, std::string> plan_fill(const MemoryLimits& limits,
                                              const EvictionParams& params, size_t key_name_bytes) {
  if (limits.maxmemory <= 0) return "maxmemory is 0 (no limit): the node never evicts";
  if (std::find(kEvictingPolicies.begin(), kEvictingPolicies.end(), limits.policy) ==
      kEvictingPolicies.end()) {
    return "maxmemory-policy " + limits.policy + " does not evict (writes fail instead)";
  }
  FillPlan plan;
  plan.key_bytes = static_cast<int64_t>(key_name_bytes) + params.value_bytes;
  const auto fill_bytes =
      static_cast<int64_t>(std::ceil(params.fill_factor * static_cast<double>(limits.maxmemory)));
  // The hot set is part of the fill; the rest is cold keys, at least one batch of them.
  const int64_t hot_bytes = params.hot_keys * plan.key_bytes;
  plan.cold_keys = std::max<int64_t>(
      params.batch_keys, (fill_bytes - hot_bytes + plan.key_bytes - 1) / plan.key_bytes);
  const int64_t total_keys = params.hot_keys + plan.cold_keys;
  const int64_t total_bytes = std::max(fill_bytes, total_keys * plan.key_bytes);
  if (total_bytes > params.max_fill_bytes) {
    return "filling maxmemory " + mib(limits.maxmemory) + " x fill_factor takes " +
           mib(total_bytes) + ", over max_fill_bytes " + mib(params.max_fill_bytes);
  }
  if (total_keys > params.max_fill_keys) {
    return "filling maxmemory " + mib(limits.maxmemory) + " takes " + std::to_string(total_keys) +
           " keys, over max_fill_keys " + std::to_string(params.max_fill_keys);
  }
  return plan;
}

asio::awaitable<Result<MemoryLimits>> read_memory_limits(ProbeContext& ctx) {
  auto maxmemory = co_await config_get(ctx, "maxmemory");
  if (maxmemory) {
    auto policy = co_await config_get(ctx, "maxmemory-policy");
    if (!policy) co_return policy.error();
    co_return MemoryLimits{std::strtoll(maxmemory.value().c_str(), nullptr, 10), policy.value(),
                           "CONFIG GET"};
  }
  if (maxmemory.error().code != ErrorCode::redis_error) co_return maxmemory.error();
  auto memory = co_await info(ctx, "memory");
  if (!memory) {
    co_return Error{memory.error().code,
                    "CONFIG GET maxmemory failed (" + maxmemory.error().message +
                        ") and so did INFO memory (" + memory.error().message + ")"};
  }
  std::string limit = info_field(memory.value(), "maxmemory");
  std::string policy = info_field(memory.value(), "maxmemory_policy");
  if (limit.empty() || policy.empty()) {
    co_return Error{ErrorCode::protocol, "CONFIG GET maxmemory failed (" +
                                             maxmemory.error().message +
                                             ") and INFO memory has no maxmemory/maxmemory_policy"};
  }
  co_return MemoryLimits{std::strtoll(limit.c_str(), nullptr, 10), policy, "INFO memory"};
}

asio::awaitable<Result<std::optional<int64_t>>> read_evicted_keys(ProbeContext& ctx) {
  auto stats = co_await info(ctx, "stats");
  if (!stats) {
    if (stats.error().code == ErrorCode::redis_error) co_return std::optional<int64_t>{};
    co_return stats.error();
  }
  std::string field = info_field(stats.value(), "evicted_keys");
  if (field.empty()) co_return std::optional<int64_t>{};
  co_return std::optional<int64_t>{std::strtoll(field.c_str(), nullptr, 10)};
}

}  // namespace chaosd
