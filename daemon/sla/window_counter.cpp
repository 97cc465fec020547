#include "daemon/sla/window_counter.h"

#include <algorithm>

namespace chaosd {
namespace {

using std::chrono::nanoseconds;
using std::chrono::seconds;

// Whole seconds keep bucket edges on second boundaries, so "5m" at 1 s resolution is exactly 300
// buckets and wider windows never get a fractional-second width that drifts against the clock.
nanoseconds width_for(nanoseconds window) {
  const nanoseconds per_bucket = (window + nanoseconds(WindowCounter::kBuckets - 1)) /
                                 WindowCounter::kBuckets;  // ceil: width * kBuckets >= window
  const seconds whole = std::chrono::ceil<seconds>(per_bucket);
  return std::max<nanoseconds>(seconds(1), whole);
}

// Number of buckets that cover the window; at most kBuckets by construction of the width.
int64_t bucket_span(nanoseconds window, nanoseconds width) {
  if (window <= nanoseconds::zero()) return 1;
  return (window.count() + width.count() - 1) / width.count();
}

}  // namespace

WindowCounter::WindowCounter(nanoseconds window, SteadyTime origin)
    : window_(window),
      width_(width_for(window)),
      slots_(bucket_span(window, width_)),
      origin_(origin),
      ring_(static_cast<size_t>(slots_)) {}

int64_t WindowCounter::bucket_index(SteadyTime t) const {
  // Steady time should never go backwards, but a clock older than the newest bucket (or than the
  // origin) must neither corrupt newer buckets nor index the ring with a negative number, so it is
  // treated as the newest bucket.
  const int64_t raw = t < origin_ ? 0 : (t - origin_) / width_;
  return std::max(raw, newest_index_);
}

void WindowCounter::add(SteadyTime now, bool good) {
  const int64_t index = bucket_index(now);
  newest_index_ = index;
  Bucket& bucket = ring_[static_cast<size_t>(index % slots_)];
  if (bucket.index != index) {
    // The slot still holds a bucket that left the window a full ring ago.
    bucket.index = index;
    bucket.counts = {};
  }
  if (good) {
    ++bucket.counts.good;
  } else {
    ++bucket.counts.bad;
  }
}

EventCounts WindowCounter::counts(SteadyTime now) const {
  const int64_t newest = bucket_index(now);
  const int64_t oldest = newest - slots_ + 1;
  EventCounts sum;
  for (const Bucket& bucket : ring_) {
    if (bucket.index >= oldest && bucket.index <= newest) {
      sum.good += bucket.counts.good;
      sum.bad += bucket.counts.bad;
    }
  }
  return sum;
}

}  // namespace chaosd
