#pragma once
// Turns each measurement into a good/bad event against its SLA, keeps compliance per window, error
// budget and burn rate, and records breach/recovery transitions. Lives on the loop thread; the HTTP
// side only ever sees the immutable SlaSnapshot values it returns.

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "daemon/sla/window_counter.h"
#include "daemon/util/clock.h"

namespace chaosd {

/// An SLA the engine judges: a config [[sla]] or a probe type's default bound to a probe instance.
struct SlaRule {
  std::string name;
  std::string probe;        // probe instance name
  std::string target;       // the probe's target, for labels
  std::string measurement;  // measurement name
  std::string subjects;     // glob over the measurement's subject ("*/1KiB"); empty: every one
  Threshold threshold;
  double objective = 0.99;
  std::vector<Duration> windows;  // non-empty, ascending
  std::string description;
  std::string impact;        // what a breach puts at risk (daemon/sla_impact.h)
  double impact_weight = 0;  // ranks breaches; 0: no figure
};

struct SlaWindowStatus {
  Duration window{};
  std::string label;  // "5m", "1h", "1d", "30d"
  EventCounts counts;
  double compliance_ratio = 1;  // good / total; 1 with no events
  double burn_rate = 0;         // (bad / total) / (1 - objective); 0 with no events
};

enum class SlaTransition { breach, recovery };

struct SlaHistoryEvent {
  WallTime at;
  SlaTransition transition;
  double value;  // the measurement that caused it
  double compliance_ratio;
  std::string faults;  // the faults active on the target then ("f-1,f-2"); empty: none
};

struct SlaStatus {
  SlaRule rule;
  bool met = true;  // compliance over the shortest window >= objective (true with no events)
  uint64_t good_total = 0;
  uint64_t bad_total = 0;
  // The part of the totals that happened while a fault was active on the target: fault windows
  // and clean windows compared (clean = total - fault).
  uint64_t fault_good_total = 0;
  uint64_t fault_bad_total = 0;
  bool has_value = false;
  double last_value = 0;
  bool last_good = true;
  WallTime last_event_at{};
  std::vector<SlaWindowStatus> windows;
  double error_budget_remaining_ratio = 1;  // over the longest window; may go negative
  std::vector<SlaHistoryEvent> history;     // newest last, bounded
};

/// One judgment, returned by record() so the caller can log/act on it.
struct SlaVerdict {
  const SlaRule* rule;
  bool good;
  std::optional<SlaTransition> transition;  // set when met changed with this event
};

/// Not thread-safe: call from the loop thread only.
class SlaEngine {
 public:
  static constexpr size_t kHistoryLimit = 100;
  explicit SlaEngine(const Clock& clock);
  ~SlaEngine();  // out of line: State is incomplete here

  /// Replaces the rule set. Counters, totals, history and `met` of rules whose name, probe,
  /// measurement and windows are unchanged are kept (so SIGHUP does not reset compliance); others
  /// start fresh. Invalidates the rule pointers of earlier verdicts.
  void set_rules(std::vector<SlaRule> rules);
  const std::vector<SlaRule>& rules() const;

  /// Judges one measurement of `probe` against every rule on it. Each verdict's rule points into
  /// rules() and stays valid until the next set_rules().
  /// `subject`: what the measurement is about (a replica, a payload size), "" for none.
  /// `faults`: the faults active on the probe's target ("f-1,f-2"), "" when none: such events
  /// count in fault_good/bad_total too, and a transition they cause names them.
  std::vector<SlaVerdict> record(const std::string& probe, const std::string& measurement,
                                 double value, const std::string& subject = "",
                                 const std::string& faults = "");

  /// Computes the current state of every SLA (windows evaluated at clock.steady_now()).
  std::vector<SlaStatus> snapshot() const;

 private:
  struct State;
  static std::unique_ptr<State> make_state(const SlaRule& rule, SteadyTime origin);
  std::unique_ptr<State> take_state(const SlaRule& rule);
  static std::optional<SlaTransition> update_met(const SlaRule& rule, State& state, SteadyTime now,
                                                 WallTime wall_now, double value,
                                                 const std::string& faults);
  static SlaStatus status_of(const SlaRule& rule, const State& state, SteadyTime now);

  const Clock& clock_;
  std::vector<std::unique_ptr<State>> states_;
  std::vector<SlaRule> rules_;
};

/// "5m", "1h", "1d", "30d", "90s": the label used in metrics and JSON.
std::string window_label(Duration window);

}  // namespace chaosd
