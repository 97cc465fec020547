#pragma once
// What an SLA breach costs the business, so that breaches can be ranked (status page, the
// redis_chaosd_sla_impact_weight metric). The defaults are our spec's figures per probe family,
// in USD of monthly recurring revenue the cache protects; [[sla]] impact/impact_weight override.

#include <string>
#include <string_view>

namespace chaosd {

struct SlaImpact {
  std::string label;  // what is at stake, e.g. "stale data served after writes"
  double weight = 0;  // 0: no figure (latency and durability have none in the spec)
};

/// The spec's default for a probe type; a zero weight and an empty label when it has none.
SlaImpact default_impact(std::string_view probe_type);

}  // namespace chaosd
