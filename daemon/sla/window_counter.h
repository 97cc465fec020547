#pragma once
// Good/bad event counts over a sliding window, in a fixed ring of time buckets. A 30-day window at
// one-second resolution would cost megabytes per SLA, so the bucket width is window / kBuckets
// (never under one second): a 5m window keeps 1 s buckets, a 30d window 2.4 h buckets. The window
// edge is therefore exact to one bucket (<0.4% of the window).

#include <chrono>
#include <cstdint>
#include <vector>

#include "daemon/util/clock.h"

namespace chaosd {

struct EventCounts {
  uint64_t good = 0;
  uint64_t bad = 0;
  uint64_t total() const { return good + bad; }
};

/// Not thread-safe; owned by the SlaEngine on the loop thread.
class WindowCounter {
 public:
  static constexpr int kBuckets = 300;
  WindowCounter(std::chrono::nanoseconds window, SteadyTime origin);

  void add(SteadyTime now, bool good);
  EventCounts counts(SteadyTime now) const;
  std::chrono::nanoseconds window() const { return window_; }
  std::chrono::nanoseconds bucket_width() const { return width_; }

 private:
  struct Bucket {
    int64_t index = -1;  // absolute bucket number since origin; -1 = empty
    EventCounts counts;
  };
  int64_t bucket_index(SteadyTime t) const;

  std::chrono::nanoseconds window_;
  std::chrono::nanoseconds width_;  // whole seconds, >= 1 s, width_ * kBuckets >= window_
  int64_t slots_;                   // buckets covering the window: ceil(window_ / width_)
  SteadyTime origin_;
  std::vector<Bucket> ring_;
  int64_t newest_index_ = 0;  // newest bucket written; earlier times are clamped to it
};

}  // namespace chaosd
