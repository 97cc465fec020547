#include "daemon/sla_rules.h"

#include <algorithm>

#include "daemon/sla_impact.h"
#include "probes/registry.h"

namespace chaosd {

std::vector<SlaRule> build_sla_rules(const Config& config) {
  std::vector<SlaRule> rules;
  const std::vector<Duration> default_windows = SlaConfig{}.windows;
  for (const auto& probe : config.probes) {
    if (!probe.enabled) continue;
    const ProbeType* type = find_probe_type(probe.type);
    if (type == nullptr) continue;
    for (const auto& d : type->default_slas) {
      SlaRule rule;
      rule.name = probe.name + "_" + d.measurement;
      rule.probe = probe.name;
      rule.target = probe.target;
      rule.measurement = d.measurement;
      rule.threshold = parse_threshold(d.threshold).value();
      rule.objective = d.objective;
      rule.windows = default_windows;
      rule.description = d.description;
      rule.subjects = d.subjects;
      SlaImpact impact = default_impact(probe.type);
      rule.impact = impact.label;
      rule.impact_weight = impact.weight;
      rules.push_back(std::move(rule));
    }
  }
  // A configured SLA on a probe's measurement replaces that measurement's default; several
  // configured SLAs on one measurement (say a tight and a loose threshold) all hold.
  std::erase_if(rules, [&](const SlaRule& r) {
    return std::any_of(config.slas.begin(), config.slas.end(), [&](const SlaConfig& sla) {
      return r.probe == sla.probe && r.measurement == sla.measurement;
    });
  });
  for (const auto& sla : config.slas) {
    const ProbeConfig* probe = config.find_probe(sla.probe);
    if (!sla.enabled || probe == nullptr || !probe->enabled) continue;
    SlaRule rule;
    rule.name = sla.name;
    rule.probe = sla.probe;
    rule.target = probe->target;
    rule.measurement = sla.measurement;
    rule.threshold = sla.threshold;
    rule.objective = sla.objective;
    rule.windows = sla.windows;
    std::sort(rule.windows.begin(), rule.windows.end());
    rule.description = sla.description;
    rule.subjects = sla.subjects;
    SlaImpact impact = default_impact(probe->type);
    rule.impact = sla.impact.value_or(impact.label);
    rule.impact_weight = sla.impact_weight.value_or(impact.weight);
    rules.push_back(std::move(rule));
  }
  return rules;
}

}  // namespace chaosd
