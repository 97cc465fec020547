#include "chaos/registry.h"

#include <algorithm>
#include <cmath>

#include "chaos/faults/client_kill.h"
#include "chaos/faults/failover.h"
#include "chaos/faults/flush_namespace.h"
#include "chaos/faults/memory_pressure.h"
#include "chaos/faults/network.h"
#include "chaos/faults/node_kill.h"
#include "chaos/faults/node_pause.h"
#include "chaos/faults/reshard.h"

namespace chaosd {

const std::vector<FaultType>& fault_types() {
  static const std::vector<FaultType> kTypes = {
      client_kill_fault_type(),
      failover_fault_type(),
      flush_namespace_fault_type(),
      memory_pressure_fault_type(),
      network_fault_type(NetworkFaultKind::bandwidth),
      network_fault_type(NetworkFaultKind::jitter),
      network_fault_type(NetworkFaultKind::latency),
      network_fault_type(NetworkFaultKind::partition),
      network_fault_type(NetworkFaultKind::reset),
      node_kill_fault_type(),
      node_pause_fault_type(),
      reshard_fault_type(),
  };
  return kTypes;
}

const FaultType* find_fault_type(std::string_view type) {
  for (const auto& t : fault_types()) {
    if (t.type == type) return &t;
  }
  return nullptr;
}

std::string fault_type_names() {
  std::string out;
  for (const auto& t : fault_types()) out += (out.empty() ? "" : ", ") + t.type;
  return out;
}

namespace {

// Records come back from disk and the faults read their numbers with get<int64_t>(), which
// static_casts a float: 1e300 where a count belongs would be undefined behaviour in every
// restore function. One check here keeps them simple: no float beyond the int64 range, and no
// nesting deeper than a record ever has.
bool numbers_fit(const nlohmann::json& value, int depth = 0) {
  if (value.is_number_float()) {
    const double number = value.get<double>();
    return std::isfinite(number) && std::fabs(number) < 9.2e18;
  }
  if (!value.is_structured()) return true;
  if (depth >= 8) return false;
  return std::all_of(value.begin(), value.end(),
                     [depth](const nlohmann::json& item) { return numbers_fit(item, depth + 1); });
}

}  // namespace

Result<std::unique_ptr<Fault>> restore_fault(const nlohmann::json& record) {
  if (!record.is_object() || !record.contains("type") || !record["type"].is_string()) {
    return Error{ErrorCode::invalid_argument, "fault record without a \"type\""};
  }
  if (!numbers_fit(record)) {
    return Error{ErrorCode::invalid_argument,
                 "fault record with a number out of range or nested too deep"};
  }
  const auto type = record["type"].get<std::string>();
  const FaultType* t = find_fault_type(type);
  if (t == nullptr) {
    return Error{ErrorCode::invalid_argument, "fault record of unknown type \"" + type +
                                                  "\" (known: " + fault_type_names() + ")"};
  }
  try {
    return t->restore(record);
  } catch (const nlohmann::json::exception& e) {
    return Error{ErrorCode::invalid_argument,
                 "fault record of type \"" + type + "\" is malformed: " + e.what()};
  }
}

namespace {

// JSON scalars to TOML values so that ParamReader validates HTTP params like config params.
Result<toml::table> json_to_toml(const nlohmann::json& params) {
  toml::table table;
  if (params.is_null()) return table;
  if (!params.is_object()) {
    return Error{ErrorCode::invalid_argument, "params: must be a JSON object"};
  }
  for (const auto& [key, value] : params.items()) {
    if (value.is_boolean()) {
      table.insert(key, value.get<bool>());
    } else if (value.is_number_integer()) {
      table.insert(key, value.get<int64_t>());
    } else if (value.is_number()) {
      table.insert(key, value.get<double>());
    } else if (value.is_string()) {
      table.insert(key, value.get<std::string>());
    } else {
      return Error{ErrorCode::invalid_argument,
                   "params." + key + ": must be a string, number or boolean"};
    }
  }
  return table;
}

}  // namespace

Result<std::unique_ptr<Fault>> create_fault_from_json(std::string_view type,
                                                      const nlohmann::json& params) {
  const FaultType* t = find_fault_type(type);
  if (t == nullptr) {
    return Error{ErrorCode::invalid_argument, "fault: \"" + std::string(type) +
                                                  "\" is not a fault type (use one of " +
                                                  fault_type_names() + ")"};
  }
  auto table = json_to_toml(params);
  if (!table) return table.error();
  try {
    return t->create(table.value(), "params", "<request>");
  } catch (const ConfigError& e) {
    return Error{ErrorCode::invalid_argument, e.key_path() + ": " + e.message()};
  }
}

}  // namespace chaosd
