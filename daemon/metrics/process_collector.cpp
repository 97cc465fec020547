#include "daemon/metrics/process_collector.h"

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace chaosd {
namespace {

prometheus::MetricFamily gauge_family(const std::string& name, const std::string& help,
                                      double value,
                                      prometheus::MetricType type = prometheus::MetricType::Gauge) {
  prometheus::MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = type;
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(metric);
  return family;
}

// Fields of /proc/self/stat after the command name (which may contain spaces).
std::vector<std::string> stat_fields() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  std::getline(in, line);
  auto close = line.rfind(')');
  std::vector<std::string> fields;
  if (close == std::string::npos) return fields;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  while (rest >> field) fields.push_back(field);
  return fields;  // fields[0] is "state" (field 3 of proc(5))
}

double boot_time_seconds() {
  std::ifstream in("/proc/stat");
  std::string key;
  double value = 0;
  while (in >> key) {
    if (key == "btime") {
      in >> value;
      return value;
    }
    in.ignore(4096, '\n');
  }
  return 0;
}

}  // namespace

ProcessCollector::ProcessCollector() {
  auto fields = stat_fields();
  double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  // proc(5) field 22 (starttime) is index 19 here.
  start_time_seconds_ =
      fields.size() > 19 ? boot_time_seconds() + std::stod(fields[19]) / ticks : 0;
}

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  std::vector<prometheus::MetricFamily> out;
  auto fields = stat_fields();
  double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  if (fields.size() > 21) {
    // utime, stime: fields 14 and 15; vsize 23; rss (pages) 24.
    double cpu = (std::stod(fields[11]) + std::stod(fields[12])) / ticks;
    out.push_back(gauge_family("process_cpu_seconds_total", "Total user and system CPU time.", cpu,
                               prometheus::MetricType::Counter));
    out.push_back(gauge_family("process_virtual_memory_bytes", "Virtual memory size.",
                               std::stod(fields[20])));
    out.push_back(gauge_family("process_resident_memory_bytes", "Resident memory size.",
                               std::stod(fields[21]) * page));
  }
  std::error_code ec;
  double fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++fds;
  }
  out.push_back(gauge_family("process_open_fds", "Number of open file descriptors.", fds));
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    out.push_back(gauge_family("process_max_fds", "Maximum number of open file descriptors.",
                               static_cast<double>(limit.rlim_cur)));
  }
  out.push_back(gauge_family("process_start_time_seconds",
                             "Start time of the process since unix epoch in seconds.",
                             start_time_seconds_));
  return out;
}

}  // namespace chaosd
