#include "daemon/sla_rules.h"

#include <algorithm>

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
      rules.push_back(std::move(rule));
    }
  }
  for (const auto& sla : config.slas) {
    // A configured SLA on the same probe and measurement replaces the default.
    std::erase_if(rules, [&](const SlaRule& r) {
      return r.probe == sla.probe && r.measurement == sla.measurement;
    });
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
    rules.push_back(std::move(rule));
  }
  return rules;
}

}  // namespace chaosd
