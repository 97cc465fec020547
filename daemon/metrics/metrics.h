#pragma once
// Every metric redis-chaosd exports (names from DESIGN.md §8, prefix redis_chaosd_, base units).
// Series for known probes, targets and SLAs are created up front so that they exist from the first
// scrape, not only after the first event.
//
// Thread-safety: updates come from the loop thread; render() may run on any (HTTP) thread:
// prometheus-cpp metrics are atomic and its registry is locked.

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <string>

#include "daemon/sla/sla_engine.h"

namespace chaosd {

class Metrics {
 public:
  Metrics();

  /// Text exposition format 0.0.4, for GET /metrics.
  std::string render() const;

  void add_target(const std::string& target);
  void set_target_up(const std::string& target, bool up);

  void add_probe(const std::string& probe, const std::string& type, const std::string& target);
  void record_probe_run(const std::string& probe, const std::string& type,
                        const std::string& target, bool ok, double duration_seconds,
                        double finished_unix_seconds);
  /// `subject` (a replica, a region; may be empty) becomes a label of its own.
  void record_measurement(const std::string& probe, const std::string& target,
                          const std::string& measurement, const std::string& subject, double value);

  void add_sla(const SlaRule& rule);
  /// `during_fault`: a fault was active on the SLA's target (counted in sla_fault_events_total
  /// too).
  void record_sla_event(const std::string& sla, bool good, bool during_fault = false);
  void update_sla(const SlaStatus& status);
  /// Drops the series of SLAs not in `keep` (after a reload).
  void retain_slas(const std::vector<SlaRule>& keep);

  /// The chaos families; injections/reverts of every fault type start at 0.
  void add_chaos(const std::vector<std::string>& fault_types);
  void set_chaos_state(bool enabled, bool halted);
  void set_fault_active(const std::string& fault, const std::string& target,
                        const std::string& experiment, bool active);
  void record_injection(const std::string& fault, bool ok);
  void record_revert(const std::string& fault, bool ok);
  /// experiment_runs_total{experiment,outcome}: succeeded, aborted, failed start at 0.
  void add_experiment(const std::string& experiment);
  void record_experiment_run(const std::string& experiment, const std::string& outcome);

 private:
  struct SlaSeries;
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<prometheus::Collectable> process_;

  prometheus::Family<prometheus::Gauge>& build_info_;
  prometheus::Family<prometheus::Gauge>& target_up_;
  prometheus::Family<prometheus::Counter>& probe_runs_;
  prometheus::Family<prometheus::Counter>& probe_failures_;
  prometheus::Family<prometheus::Histogram>& probe_duration_;
  prometheus::Family<prometheus::Gauge>& probe_up_;
  prometheus::Family<prometheus::Gauge>& probe_last_run_;
  prometheus::Family<prometheus::Gauge>& measurement_;
  prometheus::Family<prometheus::Histogram>& measurement_seconds_;
  prometheus::Family<prometheus::Gauge>& replication_lag_;
  prometheus::Family<prometheus::Gauge>& sla_met_;
  prometheus::Family<prometheus::Gauge>& sla_compliance_;
  prometheus::Family<prometheus::Gauge>& sla_objective_;
  prometheus::Family<prometheus::Gauge>& sla_threshold_;
  prometheus::Family<prometheus::Gauge>& sla_budget_;
  prometheus::Family<prometheus::Gauge>& sla_burn_rate_;
  prometheus::Family<prometheus::Counter>& sla_events_;
  prometheus::Family<prometheus::Counter>& sla_fault_events_;
  prometheus::Family<prometheus::Gauge>& sla_impact_weight_;
  prometheus::Family<prometheus::Gauge>& chaos_enabled_;
  prometheus::Family<prometheus::Gauge>& chaos_halted_;
  prometheus::Family<prometheus::Gauge>& chaos_fault_active_;
  prometheus::Family<prometheus::Counter>& chaos_injections_;
  prometheus::Family<prometheus::Counter>& chaos_reverts_;
  prometheus::Family<prometheus::Counter>& experiment_runs_;
  std::map<std::string, SlaRule> slas_;
};

}  // namespace chaosd
