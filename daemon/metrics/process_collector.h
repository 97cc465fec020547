#pragma once
// process_* metrics of the standard Prometheus client conventions (cpu, memory, fds, start time),
// read from /proc/self at scrape time. prometheus-cpp does not ship this collector.

#include <prometheus/collectable.h>

namespace chaosd {

/// Thread-safety: Collect() may run on any thread (it only reads /proc).
class ProcessCollector final : public prometheus::Collectable {
 public:
  ProcessCollector();
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  double start_time_seconds_;
};

}  // namespace chaosd
