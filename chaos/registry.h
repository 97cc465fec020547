#pragma once
// The explicit list of fault types (chaos/registry.cpp: one line per type). Each entry validates
// its params next to the code that uses them (ParamReader: an unknown or out-of-range param is a
// ConfigError with file:line:col) and rebuilds a fault from its journal record alone, so that a
// fault can be reverted after the daemon restarted.
//
// Thread-safety: the list is immutable after first use; create/restore are pure (safe anywhere).

#include <toml++/toml.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "chaos/fault.h"
#include "daemon/util/result.h"

namespace chaosd {

struct FaultType {
  std::string type;
  std::string summary;
  /// Validates `params` (throws ConfigError naming file:line:col and `key_path`.<param>) and
  /// builds a fault that is not injected yet. `key_path` names the params table, e.g.
  /// "experiments[0].params".
  std::function<std::unique_ptr<Fault>(const toml::table& params, const std::string& key_path,
                                       const std::string& file)>
      create;
  /// Rebuilds a fault from Fault::record() ({"type","params","state"}), e.g. read back from the
  /// journal. Errors are values (a record of another version, a hand-edited journal).
  std::function<Result<std::unique_ptr<Fault>>(const nlohmann::json& record)> restore;
};

const std::vector<FaultType>& fault_types();
const FaultType* find_fault_type(std::string_view type);
/// "client_kill, memory_pressure, ..." for error messages.
std::string fault_type_names();

/// find_fault_type(record["type"])->restore(record), with every error as a value.
Result<std::unique_ptr<Fault>> restore_fault(const nlohmann::json& record);

/// For the HTTP API: params as a JSON object (strings, numbers, booleans), validated exactly like
/// a config file's; a bad param is ErrorCode::invalid_argument with the ConfigError's message.
Result<std::unique_ptr<Fault>> create_fault_from_json(std::string_view type,
                                                      const nlohmann::json& params);

}  // namespace chaosd
