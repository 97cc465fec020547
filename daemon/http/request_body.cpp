#include "daemon/http/request_body.h"

#include "chaos/registry.h"

namespace chaosd {

using nlohmann::json;

namespace {

Error bad_request(std::string message) {
  return Error{ErrorCode::invalid_argument, std::move(message)};
}

std::string string_field(const json& body, const char* key) {
  auto it = body.find(key);
  return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

Result<json> parse_json_object(std::string_view body, bool empty_ok) {
  if (body.empty() && empty_ok) return json::object();
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return bad_request("the body must be a JSON object");
  }
  return parsed;
}

Result<std::string> parse_halt_request(const json& body) {
  std::string reason = string_field(body, "reason");
  if (reason.empty()) return bad_request(R"(give a reason: {"reason": "incident 42"})");
  return reason;
}

Result<FaultRequestBody> parse_fault_request(const json& body) {
  if (!body.is_object()) return bad_request("the body must be a JSON object");
  FaultRequestBody request;
  request.fault = string_field(body, "fault");
  request.target = string_field(body, "target");
  request.node = string_field(body, "node");
  const std::string duration_text = string_field(body, "duration");
  if (request.fault.empty() || request.target.empty() || duration_text.empty()) {
    return bad_request(R"(the body needs "fault", "target" and "duration" as strings, e.g. )"
                       R"({"fault":"memory_pressure","target":"main","duration":"30s",)"
                       R"("params":{"maxmemory":"8mb"}})");
  }
  for (const auto& [key, value] : body.items()) {
    if (key != "fault" && key != "target" && key != "duration" && key != "params" &&
        key != "node") {
      return bad_request("unknown field \"" + key +
                         "\"; use fault, target, duration, params, node");
    }
  }
  request.params = body.value("params", json::object());
  if (!request.params.is_object()) return bad_request("\"params\" must be a JSON object");
  if (find_fault_type(request.fault) == nullptr) {
    return bad_request("unknown fault \"" + request.fault +
                       "\"; known faults: " + fault_type_names());
  }
  std::optional<Duration> duration = parse_duration(duration_text);
  if (!duration) {
    return bad_request("\"" + duration_text + "\" is not a duration (use e.g. \"30s\")");
  }
  request.duration = *duration;
  return request;
}

}  // namespace chaosd
