#pragma once
// Which SLAs hold: every probe type's defaults from our spec, bound to each configured probe,
// then the config's [[sla]] entries (same probe + measurement replaces the default; enabled =
// false removes it).

#include <vector>

#include "config/config.h"
#include "daemon/sla/sla_engine.h"

namespace chaosd {

std::vector<SlaRule> build_sla_rules(const Config& config);

}  // namespace chaosd
