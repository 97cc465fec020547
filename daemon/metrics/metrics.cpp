#include "daemon/metrics/metrics.h"

#include <prometheus/text_serializer.h>

#include <sstream>

#include "build_info.h"
#include "daemon/metrics/process_collector.h"
#include "probes/probe_result.h"

namespace chaosd {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

const prometheus::Histogram::BucketBoundaries& timing_buckets() {
  // From 100 us (loopback commands) to 10 s (a stalled failover).
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
  return kBuckets;
}

const prometheus::Histogram::BucketBoundaries& run_buckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  return kBuckets;
}

}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      process_(std::make_shared<ProcessCollector>()),
      build_info_(BuildGauge()
                      .Name("redis_chaosd_build_info")
                      .Help("Always 1; labels carry the version of redis-chaosd.")
                      .Register(*registry_)),
      target_up_(BuildGauge()
                     .Name("redis_chaosd_target_up")
                     .Help("1 if the target answered its last health check (PING), else 0.")
                     .Register(*registry_)),
      probe_runs_(BuildCounter()
                      .Name("redis_chaosd_probe_runs_total")
                      .Help("Probe runs finished, successful or not.")
                      .Register(*registry_)),
      probe_failures_(BuildCounter()
                          .Name("redis_chaosd_probe_failures_total")
                          .Help("Probe runs that failed (error or timeout).")
                          .Register(*registry_)),
      probe_duration_(BuildHistogram()
                          .Name("redis_chaosd_probe_duration_seconds")
                          .Help("Wall time of one probe run.")
                          .Register(*registry_)),
      probe_up_(BuildGauge()
                    .Name("redis_chaosd_probe_up")
                    .Help("1 if the probe's last run succeeded, else 0.")
                    .Register(*registry_)),
      probe_last_run_(BuildGauge()
                          .Name("redis_chaosd_probe_last_run_timestamp_seconds")
                          .Help("Unix time at which the probe's last run finished.")
                          .Register(*registry_)),
      measurement_(BuildGauge()
                       .Name("redis_chaosd_measurement")
                       .Help("Last value of a probe measurement, in the base unit its name ends "
                             "with.")
                       .Register(*registry_)),
      measurement_seconds_(BuildHistogram()
                               .Name("redis_chaosd_measurement_seconds")
                               .Help("Distribution of timing measurements (names ending in "
                                     "_seconds).")
                               .Register(*registry_)),
      replication_lag_(BuildGauge()
                           .Name("redis_chaosd_replication_lag_seconds")
                           .Help("Last measured replication lag of a replica or region, on the "
                                 "daemon's clock (heartbeat written on the primary until seen).")
                           .Register(*registry_)),
      sla_met_(BuildGauge()
                   .Name("redis_chaosd_sla_met")
                   .Help("1 if compliance over the SLA's shortest window meets its objective.")
                   .Register(*registry_)),
      sla_compliance_(BuildGauge()
                          .Name("redis_chaosd_sla_compliance_ratio")
                          .Help("Good events / all events over the window (1 with no events).")
                          .Register(*registry_)),
      sla_objective_(BuildGauge()
                         .Name("redis_chaosd_sla_objective_ratio")
                         .Help("Fraction of good events the SLA requires.")
                         .Register(*registry_)),
      sla_threshold_(BuildGauge()
                         .Name("redis_chaosd_sla_threshold")
                         .Help("Threshold a measurement is compared with (see the op label).")
                         .Register(*registry_)),
      sla_budget_(BuildGauge()
                      .Name("redis_chaosd_sla_error_budget_remaining_ratio")
                      .Help("Share of the error budget left over the longest window (negative "
                            "when overspent).")
                      .Register(*registry_)),
      sla_burn_rate_(BuildGauge()
                         .Name("redis_chaosd_sla_burn_rate")
                         .Help("Error rate over the window divided by the error budget rate "
                               "(1 - objective).")
                         .Register(*registry_)),
      sla_events_(BuildCounter()
                      .Name("redis_chaosd_sla_events_total")
                      .Help("Measurements judged against the SLA, by result (good or bad).")
                      .Register(*registry_)),
      sla_fault_events_(BuildCounter()
                            .Name("redis_chaosd_sla_fault_events_total")
                            .Help("The part of sla_events_total judged while a fault was active "
                                  "on the SLA's target (clean = all - fault).")
                            .Register(*registry_)),
      sla_impact_weight_(BuildGauge()
                             .Name("redis_chaosd_sla_impact_weight")
                             .Help("Business impact of a breach (default: the spec's USD MRR at "
                                   "risk per probe family; 0 = no figure); ranks breaches.")
                             .Register(*registry_)),
      chaos_enabled_(BuildGauge()
                         .Name("redis_chaosd_chaos_enabled")
                         .Help("1 if the chaos engine is enabled ([chaos] enabled = true).")
                         .Register(*registry_)),
      chaos_halted_(BuildGauge()
                        .Name("redis_chaosd_chaos_halted")
                        .Help("1 while chaos is halted (new faults refused until resume).")
                        .Register(*registry_)),
      chaos_fault_active_(BuildGauge()
                              .Name("redis_chaosd_chaos_fault_active")
                              .Help("1 while a fault of this type is active on the target.")
                              .Register(*registry_)),
      chaos_injections_(BuildCounter()
                            .Name("redis_chaosd_chaos_injections_total")
                            .Help("Fault injections attempted, by result (success or failure); "
                                  "refusals by an interlock are not counted.")
                            .Register(*registry_)),
      chaos_reverts_(BuildCounter()
                         .Name("redis_chaosd_chaos_reverts_total")
                         .Help("Fault reverts, by result (success or failure; a failure is "
                               "retried).")
                         .Register(*registry_)),
      experiment_runs_(BuildCounter()
                           .Name("redis_chaosd_experiment_runs_total")
                           .Help("Experiment runs finished, by outcome (succeeded, aborted, "
                                 "failed).")
                           .Register(*registry_)) {
  build_info_.Add({{"version", kVersion}}).Set(1);
  set_chaos_state(false, false);
}

std::string Metrics::render() const {
  std::ostringstream out;
  auto families = registry_->Collect();
  auto process = process_->Collect();
  families.insert(families.end(), process.begin(), process.end());
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

void Metrics::add_target(const std::string& target) { target_up_.Add({{"target", target}}); }

void Metrics::set_target_up(const std::string& target, bool up) {
  target_up_.Add({{"target", target}}).Set(up ? 1 : 0);
}

void Metrics::add_probe(const std::string& probe, const std::string& type,
                        const std::string& target) {
  prometheus::Labels labels{{"probe", probe}, {"type", type}, {"target", target}};
  probe_runs_.Add(labels);
  probe_failures_.Add(labels);
  probe_duration_.Add(labels, run_buckets());
  probe_up_.Add(labels);
  probe_last_run_.Add(labels);
}

void Metrics::record_probe_run(const std::string& probe, const std::string& type,
                               const std::string& target, bool ok, double duration_seconds,
                               double finished_unix_seconds) {
  prometheus::Labels labels{{"probe", probe}, {"type", type}, {"target", target}};
  probe_runs_.Add(labels).Increment();
  if (!ok) probe_failures_.Add(labels).Increment();
  probe_duration_.Add(labels, run_buckets()).Observe(duration_seconds);
  probe_up_.Add(labels).Set(ok ? 1 : 0);
  probe_last_run_.Add(labels).Set(finished_unix_seconds);
}

void Metrics::record_measurement(const std::string& probe, const std::string& target,
                                 const std::string& measurement, const std::string& subject,
                                 double value) {
  prometheus::Labels labels{{"probe", probe}, {"target", target}, {"measurement", measurement}};
  if (!subject.empty()) labels["subject"] = subject;
  measurement_.Add(labels).Set(value);
  if (is_timing(measurement)) measurement_seconds_.Add(labels, timing_buckets()).Observe(value);
  if (measurement == "replication_lag_seconds") {
    replication_lag_.Add({{"target", target}, {"region", subject}}).Set(value);
  }
}

void Metrics::add_sla(const SlaRule& rule) {
  slas_[rule.name] = rule;
  sla_met_
      .Add({{"sla", rule.name},
            {"probe", rule.probe},
            {"target", rule.target},
            {"measurement", rule.measurement}})
      .Set(1);
  sla_objective_.Add({{"sla", rule.name}}).Set(rule.objective);
  std::string op = rule.threshold.to_string();
  op = op.substr(0, op.find(' '));
  sla_threshold_.Add({{"sla", rule.name}, {"op", op}}).Set(rule.threshold.value);
  sla_budget_.Add({{"sla", rule.name}}).Set(1);
  for (const auto& window : rule.windows) {
    prometheus::Labels labels{{"sla", rule.name}, {"window", window_label(window)}};
    sla_compliance_.Add(labels).Set(1);
    sla_burn_rate_.Add(labels).Set(0);
  }
  for (const char* result : {"good", "bad"}) {
    sla_events_.Add({{"sla", rule.name}, {"result", result}});
    sla_fault_events_.Add({{"sla", rule.name}, {"result", result}});
  }
  sla_impact_weight_.Add({{"sla", rule.name}}).Set(rule.impact_weight);
}

void Metrics::record_sla_event(const std::string& sla, bool good, bool during_fault) {
  const prometheus::Labels labels{{"sla", sla}, {"result", good ? "good" : "bad"}};
  sla_events_.Add(labels).Increment();
  if (during_fault) sla_fault_events_.Add(labels).Increment();
}

void Metrics::update_sla(const SlaStatus& status) {
  const auto& rule = status.rule;
  sla_met_
      .Add({{"sla", rule.name},
            {"probe", rule.probe},
            {"target", rule.target},
            {"measurement", rule.measurement}})
      .Set(status.met ? 1 : 0);
  sla_budget_.Add({{"sla", rule.name}}).Set(status.error_budget_remaining_ratio);
  for (const auto& window : status.windows) {
    prometheus::Labels labels{{"sla", rule.name}, {"window", window.label}};
    sla_compliance_.Add(labels).Set(window.compliance_ratio);
    sla_burn_rate_.Add(labels).Set(window.burn_rate);
  }
}

void Metrics::retain_slas(const std::vector<SlaRule>& keep) {
  std::map<std::string, SlaRule> kept;
  for (const auto& rule : keep) kept[rule.name] = rule;
  for (const auto& [name, rule] : slas_) {
    auto it = kept.find(name);
    if (it != kept.end() && it->second.probe == rule.probe &&
        it->second.measurement == rule.measurement && it->second.target == rule.target &&
        it->second.windows == rule.windows &&
        it->second.threshold.to_string() == rule.threshold.to_string()) {
      continue;
    }
    auto drop = [](auto& family, const prometheus::Labels& labels) {
      family.Remove(&family.Add(labels));
    };
    drop(sla_met_, {{"sla", rule.name},
                    {"probe", rule.probe},
                    {"target", rule.target},
                    {"measurement", rule.measurement}});
    drop(sla_objective_, {{"sla", rule.name}});
    std::string op = rule.threshold.to_string();
    drop(sla_threshold_, {{"sla", rule.name}, {"op", op.substr(0, op.find(' '))}});
    drop(sla_budget_, {{"sla", rule.name}});
    drop(sla_impact_weight_, {{"sla", rule.name}});
    for (const auto& window : rule.windows) {
      drop(sla_compliance_, {{"sla", rule.name}, {"window", window_label(window)}});
      drop(sla_burn_rate_, {{"sla", rule.name}, {"window", window_label(window)}});
    }
  }
  slas_.clear();
  for (const auto& rule : keep) add_sla(rule);
}

void Metrics::add_chaos(const std::vector<std::string>& fault_types) {
  for (const auto& fault : fault_types) {
    for (const char* result : {"success", "failure"}) {
      chaos_injections_.Add({{"fault", fault}, {"result", result}});
      chaos_reverts_.Add({{"fault", fault}, {"result", result}});
    }
  }
}

void Metrics::set_chaos_state(bool enabled, bool halted) {
  chaos_enabled_.Add({}).Set(enabled ? 1 : 0);
  chaos_halted_.Add({}).Set(halted ? 1 : 0);
}

void Metrics::set_fault_active(const std::string& fault, const std::string& target,
                               const std::string& experiment, bool active) {
  chaos_fault_active_.Add({{"fault", fault}, {"target", target}, {"experiment", experiment}})
      .Set(active ? 1 : 0);
}

void Metrics::record_injection(const std::string& fault, bool ok) {
  chaos_injections_.Add({{"fault", fault}, {"result", ok ? "success" : "failure"}}).Increment();
}

void Metrics::record_revert(const std::string& fault, bool ok) {
  chaos_reverts_.Add({{"fault", fault}, {"result", ok ? "success" : "failure"}}).Increment();
}

void Metrics::add_experiment(const std::string& experiment) {
  for (const char* outcome : {"succeeded", "aborted", "failed"}) {
    experiment_runs_.Add({{"experiment", experiment}, {"outcome", outcome}});
  }
}

void Metrics::record_experiment_run(const std::string& experiment, const std::string& outcome) {
  experiment_runs_.Add({{"experiment", experiment}, {"outcome", outcome}}).Increment();
}

}  // namespace chaosd
