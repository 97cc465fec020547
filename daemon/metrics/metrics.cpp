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
                      .Register(*registry_)) {
  build_info_.Add({{"version", kVersion}}).Set(1);
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
  sla_events_.Add({{"sla", rule.name}, {"result", "good"}});
  sla_events_.Add({{"sla", rule.name}, {"result", "bad"}});
}

void Metrics::record_sla_event(const std::string& sla, bool good) {
  sla_events_.Add({{"sla", sla}, {"result", good ? "good" : "bad"}}).Increment();
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
    for (const auto& window : rule.windows) {
      drop(sla_compliance_, {{"sla", rule.name}, {"window", window_label(window)}});
      drop(sla_burn_rate_, {{"sla", rule.name}, {"window", window_label(window)}});
    }
  }
  slas_.clear();
  for (const auto& rule : keep) add_sla(rule);
}

}  // namespace chaosd
