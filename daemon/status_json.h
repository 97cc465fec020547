#pragma once
// JSON views of targets, probes and SLAs for /status and the /api/v1 endpoints.

#include <nlohmann/json.hpp>

#include "daemon/probe_runner.h"
#include "daemon/sla/sla_engine.h"
#include "daemon/target_monitor.h"

namespace chaosd {

nlohmann::json target_json(const TargetConfig& target, const TargetHealth& health);
nlohmann::json probe_json(const ProbeRunner& runner);
nlohmann::json sla_json(const SlaStatus& status);

}  // namespace chaosd
