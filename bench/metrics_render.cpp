// /metrics render time (DESIGN §10: < 10 ms at 1000 series), in-process: the daemon's Metrics
// registry filled with latency-probe instances (runs, durations, measurements and their
// histograms, as the daemon records them) until it holds at least N series, then render() timed.
//
//   bench_metrics_render [--smoke]
//
// A series is one sample line of the exposition text (a histogram bucket counts as one).
// Prints a Markdown table on stdout.

#include <cstdio>

#include "bench/bench_util.h"
#include "daemon/metrics/metrics.h"

namespace chaosd::bench {
namespace {

size_t count_series(const std::string& text) {
  size_t series = 0;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    if (end > at && text[at] != '#') ++series;
    at = end + 1;
  }
  return series;
}

void add_probe_instance(Metrics& metrics, int index) {
  const std::string probe = "latency-" + std::to_string(index);
  const std::string target = "target-" + std::to_string(index % 10);
  metrics.add_target(target);
  metrics.add_probe(probe, "latency", target);
  metrics.record_probe_run(probe, "latency", target, true, 0.002, 1.7e9);
  metrics.record_measurement(probe, target, "availability_ratio", "", 1);
  for (const char* m : {"ping_latency_seconds", "set_latency_seconds", "get_latency_seconds",
                        "max_latency_seconds"}) {
    metrics.record_measurement(probe, target, m, "", 0.0003);
  }
}

}  // namespace
}  // namespace chaosd::bench

int main(int argc, char** argv) {
  using namespace chaosd::bench;
  quiet_logs();
  bool smoke = has_flag(argc, argv, "--smoke");
  const int renders = smoke ? 5 : 200;
  std::printf("\n### /metrics render time, in-process (Metrics::render, %d renders each)\n\n",
              renders);
  print_header({"series", "bytes", "render p50 (ms)", "render p99 (ms)", "under 10 ms (p99)"});
  chaosd::Metrics metrics;
  int instances = 0;
  std::vector<size_t> goals =
      smoke ? std::vector<size_t>{1000} : std::vector<size_t>{1000, 5000, 10000};
  for (size_t goal : goals) {
    std::string text = metrics.render();
    while (count_series(text) < goal) {
      for (int i = 0; i < 10; ++i) add_probe_instance(metrics, instances++);
      text = metrics.render();
    }
    std::vector<double> ms;
    for (int i = 0; i < renders; ++i) {
      auto t0 = Clock::now();
      text = metrics.render();
      ms.push_back(ms_between(t0, Clock::now()));
    }
    double p99 = quantile(ms, 0.99);
    print_row({std::to_string(count_series(text)), std::to_string(text.size()), cell(median(ms)),
               cell(p99), p99 < 10 ? "yes" : "**no**"});
  }
  return 0;
}
