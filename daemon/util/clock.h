#pragma once
// Injectable time source: the loop and the SLA engine read time only through a Clock so that unit
// tests can drive time by hand instead of sleeping.

#include <chrono>

namespace chaosd {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

/// Thread-safety: implementations must be safe to call from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  /// Monotonic time for intervals, windows and deadlines.
  virtual SteadyTime steady_now() const = 0;
  /// Wall-clock time for timestamps a human or Prometheus reads.
  virtual WallTime wall_now() const = 0;
};

class SystemClock final : public Clock {
 public:
  SteadyTime steady_now() const override { return std::chrono::steady_clock::now(); }
  WallTime wall_now() const override { return std::chrono::system_clock::now(); }
};

/// A clock that only moves when told to; for unit tests. Not thread-safe.
class ManualClock final : public Clock {
 public:
  SteadyTime steady_now() const override { return steady_; }
  WallTime wall_now() const override { return wall_; }
  template <class Rep, class Period>
  void advance(std::chrono::duration<Rep, Period> d) {
    steady_ += std::chrono::duration_cast<std::chrono::steady_clock::duration>(d);
    wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
  }

 private:
  SteadyTime steady_{std::chrono::hours(1000)};
  WallTime wall_{std::chrono::seconds(1'800'000'000)};
};

}  // namespace chaosd
