#pragma once
// Which SLAs hold: every probe type's defaults from our spec, bound to each configured probe,
// then the config's [[sla]] entries (any [[sla]] on a probe's measurement replaces that default;
// several may hold on one measurement; enabled = false only removes the default).

#include <vector>

#include "config/config.h"
#include "daemon/sla/sla_engine.h"

namespace chaosd {

std::vector<SlaRule> build_sla_rules(const Config& config);

}  // namespace chaosd
