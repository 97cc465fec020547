#pragma once
// The toxics of one link, in the order they were added (the order they apply in), with the id and
// expiry time each was given. Pure bookkeeping: time is passed in, so expiry is tested by hand.
//
// Thread-safety: none; owned by one link on the loop thread.

#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "chaos/proxy/toxic.h"
#include "chaos/proxy/toxic_spec.h"
#include "daemon/util/clock.h"
#include "daemon/util/result.h"

namespace chaosd {

/// Thread-safety: none; owned by one link and used on its loop thread.
class ToxicSet {
 public:
  /// Validates `spec` and appends it; an error if its name is taken on this link. The toxic
  /// expires at `now + spec.expires_in` when that is set.
  Result<ActiveToxic> add(ToxicSpec spec, SteadyTime now);
  /// Replaces the toxic of the same name in place (same position in the chain) with a new id, so
  /// per-connection state (token buckets) starts afresh. Returns the toxic it replaced.
  Result<ActiveToxic> update(ToxicSpec spec, SteadyTime now);
  /// Removes the named toxic and returns it; nullopt if there is none.
  std::optional<ActiveToxic> remove(std::string_view name);
  /// Removes every toxic and returns them.
  std::vector<ActiveToxic> clear();
  /// Removes and returns the toxics whose expiry is at or before `now`.
  std::vector<ActiveToxic> remove_expired(SteadyTime now);

  /// The earliest expiry among the toxics, if any expires.
  std::optional<SteadyTime> next_expiry() const;
  const ActiveToxic* find(std::string_view name) const;
  const ActiveToxic* find_id(uint64_t id) const;
  std::span<const ActiveToxic> all() const { return toxics_; }
  bool empty() const { return toxics_.empty(); }

 private:
  std::vector<ActiveToxic> toxics_;
  uint64_t next_id_ = 1;
};

}  // namespace chaosd
