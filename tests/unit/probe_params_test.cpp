// Probe params are validated next to each probe's factory, with file:line:col and the key path.

#include <gtest/gtest.h>

#include "config/loader.h"
#include "probes/registry.h"

namespace chaosd {
namespace {

std::string load_error(const std::string& toml_text) {
  ProbeRegistryCatalog catalog;
  try {
    load_config_string(toml_text, "p.toml", &catalog);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

const std::string kTarget = "[[targets]]\nname = \"main\"\naddress = \"127.0.0.1:6379\"\n";

TEST(ProbeParams, UnknownParamIsAnErrorWithItsPosition) {
  auto error = load_error(kTarget + "[[probes]]\ntype = \"ttl\"\nparams = { kyes = 3 }\n");
  EXPECT_NE(error.find("p.toml:6:"), std::string::npos) << error;
  EXPECT_NE(error.find("probes[0].params.kyes"), std::string::npos) << error;
}

TEST(ProbeParams, OutOfRangeValueIsAnError) {
  auto error = load_error(kTarget + "[[probes]]\ntype = \"latency\"\nparams = { samples = 0 }\n");
  EXPECT_NE(error.find("probes[0].params.samples"), std::string::npos) << error;
}

TEST(ProbeParams, TtlMarginMustBeUnderHalfTheTtl) {
  auto error = load_error(kTarget +
                          "[[probes]]\ntype = \"ttl\"\nparams = { ttl = \"100ms\", margin = "
                          "\"60ms\" }\n");
  EXPECT_NE(error.find("probes[0].params.margin"), std::string::npos) << error;
}

TEST(ProbeParams, UnknownProbeTypeListsTheKnownOnes) {
  auto error = load_error(kTarget + "[[probes]]\ntype = \"ttll\"\n");
  EXPECT_NE(error.find("ttl"), std::string::npos) << error;
  EXPECT_NE(error.find("latency"), std::string::npos) << error;
}

TEST(ProbeParams, SlaMustNameAMeasurementTheProbeProduces) {
  auto error = load_error(kTarget +
                          "[[probes]]\ntype = \"ttl\"\n[[sla]]\nprobe = \"ttl\"\n"
                          "measurement = \"nope_seconds\"\nthreshold = \"< 1\"\n");
  EXPECT_NE(error.find("sla[0].measurement"), std::string::npos) << error;
  EXPECT_NE(error.find("expiry_timing_error_seconds"), std::string::npos) << error;
}

TEST(ProbeParams, ValidParamsLoad) {
  EXPECT_EQ(
      load_error(kTarget + "[[probes]]\ntype = \"ttl\"\nparams = { keys = 3, ttl = \"1s\" }\n"),
      "");
}

TEST(ProbeParams, IntegerListElementsAreCheckedWithTheirPosition) {
  auto error = load_error(kTarget +
                          "[[probes]]\ntype = \"serialization\"\n"
                          "params = { sizes = [1024, \"16KiB\"] }\n");
  EXPECT_NE(error.find("p.toml:6:"), std::string::npos) << error;
  EXPECT_NE(error.find("probes[0].params.sizes[1]"), std::string::npos) << error;
  EXPECT_EQ(load_error(kTarget + "[[probes]]\ntype = \"serialization\"\n"
                                 "params = { sizes = [1024, 2048] }\n"),
            "");
}

}  // namespace
}  // namespace chaosd
