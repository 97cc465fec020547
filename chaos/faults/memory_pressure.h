#pragma once
// memory_pressure: the node runs short of memory. Lowers maxmemory (CONFIG SET), optionally sets
// a maxmemory-policy, and/or fills ballast keys until used_memory reaches fill_ratio x maxmemory.
// prepare() remembers the original maxmemory and maxmemory-policy in the record; revert() sets
// them back exactly and deletes every ballast key (they also carry a TTL of the fault's duration
// plus a minute, as a backstop).
//
// Ballast keys: "<key_prefix>:chaos:ballast:<fault id>:<n>", 64 KiB each, at most 16384 (1 GiB).
// Filling stops early at the first error (an OOM reply under noeviction is the pressure working).
// A policy that evicts (allkeys-*) may evict user keys: that is what this fault simulates.
// On a cluster node the ballast keys must hash to slots the node owns; not supported yet.
//
//   [[experiments]]
//   fault = "memory_pressure"
//   params = { maxmemory = "8mb", policy = "noeviction", fill_ratio = 0.9 }

#include <cstdint>
#include <optional>
#include <string>

#include "chaos/registry.h"

namespace chaosd {

struct MemoryPressureParams {
  std::optional<int64_t> maxmemory_bytes;  // unset: keep the current maxmemory
  std::string policy;                      // empty: keep the current maxmemory-policy
  double fill_ratio = 0;                   // 0: no ballast
};

struct MemoryPressureState {
  bool captured = false;
  std::string original_maxmemory;  // exactly as CONFIG GET returned it
  std::string original_policy;
  std::string ballast_prefix;  // "<key_prefix>:chaos:ballast:<id>:"
  int64_t ballast_keys = 0;    // planned (revert deletes all of them)
  int64_t ballast_written = 0;
};

class MemoryPressureFault final : public Fault {
 public:
  static constexpr int64_t kBallastValueBytes = 64 * 1024;
  static constexpr int64_t kMaxBallastKeys = 16384;

  MemoryPressureFault(MemoryPressureParams params, MemoryPressureState state = {})
      : params_(std::move(params)), state_(std::move(state)) {}
  const std::string& type() const override;
  boost::asio::awaitable<Status> prepare(FaultContext& ctx) override;
  boost::asio::awaitable<Status> inject(FaultContext& ctx) override;
  boost::asio::awaitable<Status> revert(FaultContext& ctx) override;
  nlohmann::json record() const override;

  const MemoryPressureState& state() const { return state_; }

 private:
  MemoryPressureParams params_;
  MemoryPressureState state_;
};

FaultType memory_pressure_fault_type();

}  // namespace chaosd
