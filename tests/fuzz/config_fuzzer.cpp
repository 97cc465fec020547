// libFuzzer target: a TOML config document through the loader and every validation the daemon
// runs at start (load_config_string with the probe catalog, then validate_experiments).
// Properties checked on every input:
//   - a bad document is a ConfigError (file:line:col, key path); nothing else may escape, crash,
//     or trip ASan/UBSan;
//   - a document that loads prints (--print-config) to TOML that loads again and prints the same.
// Build and run: scripts/fuzz (docs/reliability.md).

#include <spdlog/spdlog.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/loader.h"
#include "daemon/chaos_service.h"
#include "probes/registry.h"

namespace {

// One name for both loads: print_config() names the source in its header line.
const std::string kSourceName = "fuzz.toml";

// Everything a start-up does with the text, as in daemon/main.cpp.
chaosd::Config load_and_validate(std::string_view text, const std::string& name) {
  static const chaosd::ProbeRegistryCatalog catalog;
  chaosd::Config config = chaosd::load_config_string(text, name, &catalog);
  chaosd::validate_experiments(config);
  return config;
}

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "config_fuzzer: %s\n%s\n", what, detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  chaosd::Config config;
  try {
    config = load_and_validate(text, kSourceName);
  } catch (const chaosd::ConfigError&) {
    return 0;  // rejected with a located message: the expected outcome for most inputs
  }
  const std::string printed = chaosd::print_config(config);
  std::string reprinted;
  try {
    reprinted = chaosd::print_config(load_and_validate(printed, kSourceName));
  } catch (const chaosd::ConfigError& e) {
    fail("a loaded config printed to TOML that does not load again",
         std::string(e.what()) + "\n--- printed:\n" + printed);
  }
  if (reprinted != printed) {
    fail("print_config is not stable across a reload",
         "--- printed:\n" + printed + "--- reprinted:\n" + reprinted);
  }
  return 0;
}
