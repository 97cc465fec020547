#include "daemon/status_json.h"

#include "daemon/util/time_format.h"

namespace chaosd {

using nlohmann::json;

json target_json(const TargetConfig& target, const TargetHealth& health) {
  json nodes = json::array();
  for (const auto& node : health.nodes) {
    json n{{"address", node.address},
           {"role", node.role},
           {"up", node.up},
           {"ping_seconds", node.ping_seconds},
           {"last_error", node.last_error}};
    if (!node.region.empty()) n["region"] = node.region;
    if (!node.slots.empty()) n["slots"] = node.slots;
    nodes.push_back(std::move(n));
  }
  return json{{"name", target.name},
              {"nodes", nodes},
              {"kind", to_string(target.kind)},
              {"lab", target.lab},
              {"address", NodeAddress{target.host, target.port}.to_string()},
              {"upstream", target.upstream},
              {"db", target.db},
              {"chaos_allowed", target.chaos_allowed},
              {"checked", health.checked},
              {"up", health.up},
              {"ping_seconds", health.ping_seconds},
              {"role", health.role},
              {"redis_version", health.redis_version},
              {"last_error", health.last_error},
              {"last_check", health.checked ? json(iso8601(health.last_check)) : json()}};
}

json probe_json(const ProbeRunner& runner) {
  const auto& config = runner.config();
  json out{{"name", config.name},
           {"type", config.type},
           {"target", config.target},
           {"target_kind", to_string(runner.topology().kind)},
           {"interval_seconds", to_seconds(config.interval)},
           {"timeout_seconds", to_seconds(config.timeout)},
           {"running", runner.running()},
           {"connected", runner.connection().connected()},
           {"last_run", nullptr}};
  if (const auto& run = runner.last_run()) {
    json measurements = json::object();
    for (const auto& m : run->result.measurements) {
      std::string key = m.subject.empty() ? m.name : m.name + "{" + m.subject + "}";
      measurements[key] = m.applicable() ? json(m.value) : json("n/a: " + m.na_reason);
    }
    out["last_run"] = json{{"ok", run->ok},
                           {"timed_out", run->timed_out},
                           {"duration_seconds", run->duration_seconds},
                           {"finished_at", iso8601(run->finished_at)},
                           {"measurements", measurements},
                           {"errors", run->result.errors},
                           {"notes", run->result.notes}};
  }
  return out;
}

json sla_json(const SlaStatus& status) {
  const auto& rule = status.rule;
  json windows = json::array();
  for (const auto& w : status.windows) {
    windows.push_back(json{{"window", w.label},
                           {"good", w.counts.good},
                           {"bad", w.counts.bad},
                           {"compliance_ratio", w.compliance_ratio},
                           {"burn_rate", w.burn_rate}});
  }
  json history = json::array();
  for (const auto& event : status.history) {
    history.push_back(
        json{{"at", iso8601(event.at)},
             {"transition", event.transition == SlaTransition::breach ? "breach" : "recovery"},
             {"value", event.value},
             {"compliance_ratio", event.compliance_ratio},
             {"during_faults", event.faults}});
  }
  // Events while a fault was active on the target vs the rest: how much the faults cost.
  auto condition = [](uint64_t good, uint64_t bad) {
    const uint64_t total = good + bad;
    return json{
        {"good", good},
        {"bad", bad},
        {"compliance_ratio",
         total == 0 ? json() : json(static_cast<double>(good) / static_cast<double>(total))}};
  };
  return json{{"name", rule.name},
              {"probe", rule.probe},
              {"target", rule.target},
              {"measurement", rule.measurement},
              {"threshold", rule.threshold.to_string()},
              {"objective", rule.objective},
              {"description", rule.description},
              {"subjects", rule.subjects},
              {"met", status.met},
              {"impact", rule.impact},
              {"impact_weight", rule.impact_weight},
              {"good_total", status.good_total},
              {"bad_total", status.bad_total},
              {"during_faults", condition(status.fault_good_total, status.fault_bad_total)},
              {"clean", condition(status.good_total - status.fault_good_total,
                                  status.bad_total - status.fault_bad_total)},
              {"last_value", status.has_value ? json(status.last_value) : json()},
              {"last_good", status.has_value ? json(status.last_good) : json()},
              {"error_budget_remaining_ratio", status.error_budget_remaining_ratio},
              {"windows", windows},
              {"history", history}};
}

}  // namespace chaosd
