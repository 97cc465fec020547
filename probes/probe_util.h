#pragma once
// Small conversions and statistics that many probes need.

#include <algorithm>
#include <boost/asio/cancellation_state.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "config/duration.h"
#include "daemon/util/clock.h"

namespace chaosd {

/// A duration as a Redis millisecond argument (PX, PEXPIRE): whole milliseconds, at least 1,
/// because Redis refuses 0.
inline std::string to_ms(Duration d) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  return std::to_string(std::max<int64_t>(ms, 1));
}

inline SteadyTime::duration to_steady(Duration d) {
  return std::chrono::duration_cast<SteadyTime::duration>(d);
}

/// Nearest-rank 99th percentile of a non-empty sample (the maximum below 100 values).
inline double p99(std::vector<double> values) {
  auto rank = static_cast<size_t>(std::ceil(0.99 * static_cast<double>(values.size())));
  rank = std::max<size_t>(rank, 1);
  std::nth_element(values.begin(), values.begin() + static_cast<ptrdiff_t>(rank - 1),
                   values.end());
  return values[rank - 1];
}

/// True once the coroutine's cancellation slot was triggered (the probe's run timed out).
inline bool cancelled(const boost::asio::cancellation_state& state) {
  return state.cancelled() != boost::asio::cancellation_type::none;
}

}  // namespace chaosd
