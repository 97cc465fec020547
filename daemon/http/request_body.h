#pragma once
// Pure parsers of the JSON bodies the HTTP API accepts (docs/http-api.md, docs/chaos.md): bytes in,
// a typed request or an Error (ErrorCode::invalid_argument: a 400) out. No I/O, no daemon state,
// never throws, so that tests and the fuzzers (fuzz/http_body_fuzzer.cpp) exercise exactly what
// the handlers run. Thread-safe (pure functions).

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "config/duration.h"
#include "daemon/util/result.h"

namespace chaosd {

/// A request body that must be a JSON object; an empty body is {} when `empty_ok`.
Result<nlohmann::json> parse_json_object(std::string_view body, bool empty_ok);

/// POST /api/v1/chaos/halt: {"reason": "<non-empty string>"} -> the reason.
Result<std::string> parse_halt_request(const nlohmann::json& body);

/// POST /api/v1/faults: {"fault","target","duration"[,"params"][,"node"]}, checked for shape only:
/// the fault type is known, the duration parses, params is an object, no unknown field. Whether
/// the target exists and allows chaos, and whether the params suit the fault, is the caller's.
struct FaultRequestBody {
  std::string fault;
  std::string target;
  std::string node;  // empty: the target's primary
  Duration duration{};
  nlohmann::json params = nlohmann::json::object();
};
Result<FaultRequestBody> parse_fault_request(const nlohmann::json& body);

}  // namespace chaosd
