#include "daemon/sla_impact.h"

#include <array>
#include <utility>

namespace chaosd {

SlaImpact default_impact(std::string_view probe_type) {
  // The spec's figures (USD MRR at risk); the labels say what a breach of that family puts at risk.
  static const std::array<std::pair<std::string_view, SlaImpact>, 10> kDefaults = {{
      {"collision", {"cross-tenant key collisions", 4000}},
      {"eviction", {"hot keys evicted under memory pressure", 4000}},
      {"invalidation", {"stale data served after writes", 5000}},
      {"lock", {"double processing when locks fail", 7000}},
      {"replication", {"cross-region stale reads", 12000}},
      {"reshard", {"failed requests while resharding", 8000}},
      {"serialization", {"CPU and latency spent on cache payloads", 5000}},
      {"stampede", {"database overload when hot keys expire", 6000}},
      {"ttl", {"sessions and tokens expiring at the wrong time", 3000}},
      {"warming", {"cold-cache misses after deploys and failovers", 4000}},
  }};
  for (const auto& [type, impact] : kDefaults) {
    if (type == probe_type) return impact;
  }
  return {};
}

}  // namespace chaosd
