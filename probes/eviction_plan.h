#pragma once
// The eviction probe's plan for a run: the node's memory limit and policy (read with CONFIG GET,
// else INFO memory), and how many keys a run writes to fill it, or why it must not (nothing to
// evict, or more to write than the probe may). plan_fill() is pure; the readers talk to Redis.

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "probes/probe.h"

namespace chaosd {

struct EvictionParams {
  int hot_keys = 500;
  int value_bytes = 1024;
  double fill_factor = 1.5;  // payload bytes written in a run / maxmemory
  Duration pressure_duration = std::chrono::seconds(5);
  Duration hot_read_interval = std::chrono::milliseconds(100);
  int batch_keys = 100;
  Duration key_ttl = std::chrono::minutes(2);
  int64_t max_fill_bytes = int64_t{64} << 20;  // a run on a bigger maxmemory is refused (n/a)
  int64_t max_fill_keys = 200'000;
};

struct MemoryLimits {
  int64_t maxmemory = 0;
  std::string policy;
  std::string source;  // "CONFIG GET" or "INFO memory"
};

struct FillPlan {
  int64_t key_bytes = 0;  // payload of one key: name + value
  int64_t cold_keys = 0;
};

/// The keys a run writes to push `limits.maxmemory` by `fill_factor`, or the reason the run is not
/// applicable: no limit, a policy that does not evict, or a fill over max_fill_bytes/keys.
/// `key_name_bytes` is the length of one key's name.
std::variant<FillPlan, std::string> plan_fill(const MemoryLimits& limits,
                                              const EvictionParams& params, size_t key_name_bytes);

/// maxmemory and maxmemory-policy of the node serving the probe's keys. A refused CONFIG (an
/// error reply: ACL, renamed command) falls back to INFO memory. An error reply or missing
/// fields in both is a redis_error/protocol error; a transport failure is returned as is.
boost::asio::awaitable<Result<MemoryLimits>> read_memory_limits(ProbeContext& ctx);

/// The node's INFO stats evicted_keys, or nullopt when INFO is refused or lacks it.
boost::asio::awaitable<Result<std::optional<int64_t>>> read_evicted_keys(ProbeContext& ctx);

}  // namespace chaosd
