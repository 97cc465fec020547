#include "probes/registry.h"

#include "probes/collision.h"
#include "probes/durability.h"
#include "probes/eviction.h"
#include "probes/invalidation.h"
#include "probes/latency.h"
#include "probes/lock.h"
#include "probes/replication.h"
#include "probes/reshard.h"
#include "probes/serialization.h"
#include "probes/stampede.h"
#include "probes/ttl.h"
#include "probes/warming.h"

namespace chaosd {

const std::vector<ProbeType>& probe_types() {
  static const std::vector<ProbeType> kTypes = {
      collision_probe_type(),    durability_probe_type(), eviction_probe_type(),
      invalidation_probe_type(), latency_probe_type(),    lock_probe_type(),
      replication_probe_type(),  reshard_probe_type(),    serialization_probe_type(),
      stampede_probe_type(),     ttl_probe_type(),        warming_probe_type(),
  };
  return kTypes;
}

const ProbeType* find_probe_type(std::string_view type) {
  for (const auto& t : probe_types()) {
    if (t.type == type) return &t;
  }
  return nullptr;
}

bool ProbeRegistryCatalog::has_type(std::string_view type) const {
  return find_probe_type(type) != nullptr;
}

std::vector<std::string> ProbeRegistryCatalog::types() const {
  std::vector<std::string> out;
  for (const auto& t : probe_types()) out.push_back(t.type);
  return out;
}

void ProbeRegistryCatalog::validate_params(const ProbeConfig& probe,
                                           std::string_view key_path) const {
  if (const auto* type = find_probe_type(probe.type)) type->create(probe, std::string(key_path));
}

std::vector<std::string> ProbeRegistryCatalog::measurements(std::string_view type) const {
  const auto* t = find_probe_type(type);
  return t ? t->measurements : std::vector<std::string>{};
}

}  // namespace chaosd
