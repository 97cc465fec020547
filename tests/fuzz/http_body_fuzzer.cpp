// libFuzzer target: a request body of the chaos API, through exactly what the handlers run
// (daemon/http/request_body.h): the JSON object check, the halt and fault request parsers, the
// fault's params validation (create_fault_from_json) and its journal record round trip; the same
// text as a journal (parse_journal) and as a journal record (restore_fault), since both are JSON
// read back from disk. Properties: errors are values, nothing throws, crashes or trips ASan/UBSan;
// a fault built from a request rebuilds from its record into the same record.
// Build and run: scripts/fuzz (docs/reliability.md).

#include <spdlog/spdlog.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "chaos/journal.h"
#include "chaos/registry.h"
#include "daemon/http/request_body.h"

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "http_body_fuzzer: %s\n%s\n", what, detail.c_str());
  std::abort();
}

void check_fault_request(const nlohmann::json& body) {
  auto request = chaosd::parse_fault_request(body);
  if (!request) return;
  auto fault = chaosd::create_fault_from_json(request->fault, request->params);
  if (!fault) return;
  const nlohmann::json record = fault.value()->record();
  auto restored = chaosd::restore_fault(record);
  if (!restored) fail("a fault's record does not restore", record.dump());
  if (restored.value()->record() != record) {
    fail("a restored fault has another record",
         record.dump() + "\nvs\n" + restored.value()->record().dump());
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)chaosd::parse_journal(text);
  auto body = chaosd::parse_json_object(text, /*empty_ok=*/size % 2 == 0);
  if (!body) return 0;
  (void)chaosd::parse_halt_request(body.value());
  (void)chaosd::restore_fault(body.value());
  check_fault_request(body.value());
  return 0;
}
