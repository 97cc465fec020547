#include "daemon/sla/sla_engine.h"

#include <fnmatch.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <string_view>
#include <utility>

namespace chaosd {

struct SlaEngine::State {
  std::vector<WindowCounter> counters;  // parallel to rule.windows
  std::vector<std::string> labels;      // window_label() of each window, computed once
  size_t shortest = 0;                  // index of the window that decides `met`
  size_t longest = 0;                   // index of the window the error budget is spent over
  uint64_t good_total = 0;
  uint64_t bad_total = 0;
  uint64_t fault_good_total = 0;
  uint64_t fault_bad_total = 0;
  bool has_value = false;
  double last_value = 0;
  bool last_good = true;
  WallTime last_event_at{};
  bool met = true;
  std::deque<SlaHistoryEvent> history;  // newest last, at most kHistoryLimit
};

namespace {

double compliance_ratio(const EventCounts& counts) {
  if (counts.total() == 0) return 1;
  return static_cast<double>(counts.good) / static_cast<double>(counts.total());
}

// How many times faster than the objective allows the budget is being spent: 1 spends exactly
// the whole budget over the window.
double burn_rate(const EventCounts& counts, double objective) {
  if (counts.total() == 0 || counts.bad == 0) return 0;
  const double allowed_bad_ratio = 1 - objective;
  // Config validation keeps objectives below 1; should one slip through, any bad event exceeds a
  // zero budget infinitely rather than dividing by zero.
  if (allowed_bad_ratio <= 0) return std::numeric_limits<double>::infinity();
  const double bad_ratio = static_cast<double>(counts.bad) / static_cast<double>(counts.total());
  return bad_ratio / allowed_bad_ratio;
}

// State (counters, history) is only meaningful for the same series judged over the same windows;
// threshold, objective, target and description may change without resetting it.
bool same_series(const SlaRule& a, const SlaRule& b) {
  return a.name == b.name && a.probe == b.probe && a.measurement == b.measurement &&
         a.windows == b.windows;
}

}  // namespace

SlaEngine::SlaEngine(const Clock& clock) : clock_(clock) {}

SlaEngine::~SlaEngine() = default;

void SlaEngine::set_rules(std::vector<SlaRule> rules) {
  const SteadyTime now = clock_.steady_now();
  std::vector<std::unique_ptr<State>> states;
  states.reserve(rules.size());
  for (const SlaRule& rule : rules) {
    std::unique_ptr<State> state = take_state(rule);
    states.push_back(state ? std::move(state) : make_state(rule, now));
  }
  states_ = std::move(states);
  rules_ = std::move(rules);
}

const std::vector<SlaRule>& SlaEngine::rules() const { return rules_; }

std::vector<SlaVerdict> SlaEngine::record(const std::string& probe, const std::string& measurement,
                                          double value, const std::string& subject,
                                          const std::string& faults) {
  std::vector<SlaVerdict> verdicts;
  const SteadyTime now = clock_.steady_now();
  const WallTime wall_now = clock_.wall_now();
  for (size_t i = 0; i < rules_.size(); ++i) {
    const SlaRule& rule = rules_[i];
    if (rule.probe != probe || rule.measurement != measurement) continue;
    if (!rule.subjects.empty() && ::fnmatch(rule.subjects.c_str(), subject.c_str(), 0) != 0) {
      continue;
    }
    State& state = *states_[i];
    const bool good = rule.threshold.holds(value);
    for (WindowCounter& counter : state.counters) counter.add(now, good);
    ++(good ? state.good_total : state.bad_total);
    if (!faults.empty()) ++(good ? state.fault_good_total : state.fault_bad_total);
    state.has_value = true;
    state.last_value = value;
    state.last_good = good;
    state.last_event_at = wall_now;
    verdicts.push_back({&rule, good, update_met(rule, state, now, wall_now, value, faults)});
  }
  return verdicts;
}

std::vector<SlaStatus> SlaEngine::snapshot() const {
  const SteadyTime now = clock_.steady_now();
  std::vector<SlaStatus> statuses;
  statuses.reserve(rules_.size());
  for (size_t i = 0; i < rules_.size(); ++i) {
    statuses.push_back(status_of(rules_[i], *states_[i], now));
  }
  return statuses;
}

std::unique_ptr<SlaEngine::State> SlaEngine::take_state(const SlaRule& rule) {
  for (size_t i = 0; i < rules_.size(); ++i) {
    // A taken state leaves a null behind, so duplicate rules cannot share one state.
    if (states_[i] && same_series(rules_[i], rule)) return std::move(states_[i]);
  }
  return nullptr;
}

std::optional<SlaTransition> SlaEngine::update_met(const SlaRule& rule, State& state,
                                                   SteadyTime now, WallTime wall_now, double value,
                                                   const std::string& faults) {
  if (state.counters.empty()) return std::nullopt;
  const double compliance = compliance_ratio(state.counters[state.shortest].counts(now));
  const bool met = compliance >= rule.objective;
  if (met == state.met) return std::nullopt;
  state.met = met;
  const SlaTransition transition = met ? SlaTransition::recovery : SlaTransition::breach;
  state.history.push_back({wall_now, transition, value, compliance, faults});
  while (state.history.size() > kHistoryLimit) state.history.pop_front();
  return transition;
}

SlaStatus SlaEngine::status_of(const SlaRule& rule, const State& state, SteadyTime now) {
  SlaStatus status;
  status.rule = rule;
  status.met = state.met;
  status.good_total = state.good_total;
  status.bad_total = state.bad_total;
  status.fault_good_total = state.fault_good_total;
  status.fault_bad_total = state.fault_bad_total;
  status.has_value = state.has_value;
  status.last_value = state.last_value;
  status.last_good = state.last_good;
  status.last_event_at = state.last_event_at;
  status.windows.reserve(state.counters.size());
  for (size_t w = 0; w < state.counters.size(); ++w) {
    const EventCounts counts = state.counters[w].counts(now);
    status.windows.push_back({rule.windows[w], state.labels[w], counts, compliance_ratio(counts),
                              burn_rate(counts, rule.objective)});
  }
  if (!status.windows.empty()) {
    status.error_budget_remaining_ratio = 1 - status.windows[state.longest].burn_rate;
  }
  status.history.assign(state.history.begin(), state.history.end());
  return status;
}

std::unique_ptr<SlaEngine::State> SlaEngine::make_state(const SlaRule& rule, SteadyTime origin) {
  auto state = std::make_unique<State>();
  state->counters.reserve(rule.windows.size());
  state->labels.reserve(rule.windows.size());
  for (const Duration& window : rule.windows) {
    state->counters.emplace_back(window, origin);
    state->labels.push_back(window_label(window));
  }
  // Rules promise ascending windows, but nothing breaks if a hand-built one does not.
  const auto [shortest, longest] = std::minmax_element(rule.windows.begin(), rule.windows.end());
  state->shortest = static_cast<size_t>(shortest - rule.windows.begin());
  state->longest = static_cast<size_t>(longest - rule.windows.begin());
  return state;
}

std::string window_label(Duration window) {
  struct Unit {
    Duration length;
    std::string_view suffix;
  };
  // Largest first, so a label is as short as possible; every suffix is one parse_duration() reads.
  static constexpr std::array<Unit, 7> kUnits = {{
      {std::chrono::hours(24), "d"},
      {std::chrono::hours(1), "h"},
      {std::chrono::minutes(1), "m"},
      {std::chrono::seconds(1), "s"},
      {std::chrono::milliseconds(1), "ms"},
      {std::chrono::microseconds(1), "us"},
      {std::chrono::nanoseconds(1), "ns"},
  }};
  if (window <= Duration::zero()) return "0s";
  for (const Unit& unit : kUnits) {
    if (window % unit.length == Duration::zero()) {
      return std::to_string(window / unit.length) + std::string(unit.suffix);
    }
  }
  return std::to_string(window.count()) + "ns";  // unreachable: 1ns divides everything
}

}  // namespace chaosd
