#pragma once
// What the toxics of one direction do to the bytes of one chunk: pure scheduling, no sockets, so
// that it is tested with hand-driven time. A chunk becomes slices of itself, each with the earliest
// time it may be written; the connection queues them and a writer releases them in order.
//
// Toxics of a direction apply in the order they were added, like Toxiproxy's chain: a latency
// toxic shifts every slice, a bandwidth toxic spaces them by a token bucket, a slicer cuts them, a
// partition drops them. Release times never go backwards, so order is preserved under jitter.
// timeout (hold) and reset_peer act on the connection, not on bytes (see ProxyConnection).
//
// Thread-safety: none; one ToxicPipeline per connection direction, used from the loop thread.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "chaos/proxy/toxic_spec.h"
#include "daemon/util/clock.h"

namespace chaosd {

/// A toxic in force on a link: its spec, plus the identity and expiry the link gave it.
struct ActiveToxic {
  uint64_t id = 0;  // unique per link; a replaced toxic gets a new id (and fresh state)
  ToxicSpec spec;
  std::optional<SteadyTime> expires_at;
};

/// The free functions here are pure: safe from any thread.
/// Whether a timeout toxic holds the data of `direction` (nothing is read while it does).
bool holds_data(std::span<const ActiveToxic> toxics, ToxicDirection direction);
/// Whether any toxic of `direction` reshapes bytes (latency, bandwidth, slicer, partition).
bool shapes_data(std::span<const ActiveToxic> toxics, ToxicDirection direction);

using ToxicRng = std::minstd_rand;

/// latency +- jitter, uniform, clamped at zero.
Duration latency_delay(const ToxicParams& params, ToxicRng& rng);
/// The next slicer slice: average_size +- size_variation, uniform, at most `remaining`, >= 1.
size_t slice_size(const ToxicParams& params, size_t remaining, ToxicRng& rng);
/// The bandwidth toxic releases a chunk in pieces of 20 ms of traffic (at least one byte), so a
/// slow rate trickles instead of bursting one chunk at a time.
size_t bandwidth_piece_bytes(uint64_t rate_bytes_per_second);

/// Tokens (bytes) refill at `rate` up to `burst`. Thread-safety: none (a plain value). A
/// reservation may overdraw; it returns when the reserved bytes may pass, i.e. when the debt is
/// paid back.
class TokenBucket {
 public:
  TokenBucket(uint64_t rate_bytes_per_second, uint64_t burst_bytes, SteadyTime now);
  SteadyTime reserve(uint64_t bytes, SteadyTime at);

 private:
  double rate_per_ns_;
  double burst_;
  double tokens_;
  SteadyTime updated_;
};

/// A run of bytes of one chunk and the earliest time it may be written.
struct Slice {
  size_t offset = 0;
  size_t size = 0;
  SteadyTime release{};
};

/// What the toxics of one connection direction remember between chunks: token buckets, the
/// random source for jitter and slice sizes, and the last release time (the ordering floor).
/// Thread-safety: none; one per connection direction, on the loop thread.
class ToxicPipeline {
 public:
  explicit ToxicPipeline(uint64_t seed) : rng_(static_cast<ToxicRng::result_type>(seed)) {}

  /// Schedules `size` bytes read at `now` through the toxics of `direction`. The slices cover the
  /// chunk in order with non-decreasing release times; none when a partition drops the chunk.
  /// The returned reference is valid until the next call (its storage is reused).
  const std::vector<Slice>& schedule(std::span<const ActiveToxic> toxics, ToxicDirection direction,
                                     size_t size, SteadyTime now);

  /// Called when a toxic of this direction is removed or replaced: data it already delayed is
  /// released at `now` at the latest, and state of toxics that are gone is dropped.
  void release_held(std::span<const ActiveToxic> toxics, SteadyTime now);

 private:
  TokenBucket& bucket_for(const ActiveToxic& toxic, SteadyTime now);
  void apply(const ActiveToxic& toxic, SteadyTime now);

  ToxicRng rng_;
  std::vector<std::pair<uint64_t, TokenBucket>> buckets_;
  std::vector<Slice> slices_;
  std::vector<Slice> scratch_;
  SteadyTime floor_{};
};

}  // namespace chaosd
