#pragma once
// What one probe run produces: measurements in base units plus the errors it met. Values, not
// exceptions: a failed run is a ProbeResult with errors, never a throw.

#include <string>
#include <vector>

namespace chaosd {

/// One measured value. `name` ends with its base unit: "_seconds", "_ratio", "_total",
/// "_bytes", "_per_second" so that metrics and SLAs need no unit table.
struct Measurement {
  std::string name;
  double value = 0;
  std::string subject;    // what was measured when a run measures several: a replica, a region
  std::string na_reason;  // non-empty: not applicable here (value meaningless, no SLA event)
  bool applicable() const { return na_reason.empty(); }
};

struct ProbeResult {
  std::vector<Measurement> measurements;
  std::vector<std::string> errors;  // human-readable reasons; non-empty means the run failed
  std::vector<std::string> notes;   // e.g. "keyspace notifications off: reclaim not measured"

  bool ok() const { return errors.empty(); }
  void add(std::string name, double value, std::string subject = "") {
    measurements.push_back({std::move(name), value, std::move(subject), {}});
  }
  /// A measurement that does not apply to this target or run, with the reason (e.g. conflict
  /// resolution on a single-writer topology). It is shown, but judged by no SLA.
  void add_not_applicable(std::string name, std::string reason, std::string subject = "") {
    measurements.push_back({std::move(name), 0, std::move(subject), std::move(reason)});
  }
};

/// True when a measurement name denotes a duration (exported as a histogram too).
inline bool is_timing(const std::string& measurement_name) {
  constexpr std::string_view kSuffix = "_seconds";
  return measurement_name.size() >= kSuffix.size() &&
         measurement_name.compare(measurement_name.size() - kSuffix.size(), kSuffix.size(),
                                  kSuffix) == 0;
}

}  // namespace chaosd
