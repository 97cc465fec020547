// Default SLAs of each probe type, and how [[sla]] entries replace or remove them.

#include "daemon/sla_rules.h"

#include <gtest/gtest.h>

#include "config/loader.h"
#include "daemon/sla_impact.h"
#include "probes/registry.h"

namespace chaosd {
namespace {

Config load(const std::string& extra) {
  ProbeRegistryCatalog catalog;
  return load_config_string(
      "[[targets]]\nname = \"main\"\naddress = \"127.0.0.1:6379\"\n[[probes]]\ntype = \"ttl\"\n" +
          extra,
      "t.toml", &catalog);
}

// How many default SLAs the ttl probe type brings (the registry is the source of truth).
size_t ttl_defaults() { return find_probe_type("ttl")->default_slas.size(); }

const SlaRule* find(const std::vector<SlaRule>& rules, const std::string& name) {
  for (const auto& r : rules) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

TEST(SlaRules, ProbeTypesBringTheSpecDefaults) {
  auto rules = build_sla_rules(load(""));
  ASSERT_GE(ttl_defaults(), 3u);
  ASSERT_EQ(rules.size(), ttl_defaults());
  const auto* accuracy = find(rules, "ttl_expiry_accuracy_ratio");
  ASSERT_NE(accuracy, nullptr);
  EXPECT_EQ(accuracy->threshold.to_string(), ">= 0.995");
  EXPECT_EQ(accuracy->target, "main");
  const auto* timing = find(rules, "ttl_expiry_timing_error_seconds");
  ASSERT_NE(timing, nullptr);
  EXPECT_TRUE(timing->threshold.holds(0.049));
  EXPECT_FALSE(timing->threshold.holds(0.05));
  EXPECT_EQ(timing->windows.size(), 4u);
}

TEST(SlaRules, ConfiguredSlaReplacesTheDefaultOnTheSameMeasurement) {
  auto rules = build_sla_rules(
      load("[[sla]]\nname = \"strict_timing\"\nprobe = \"ttl\"\nmeasurement = "
           "\"expiry_timing_error_seconds\"\nthreshold = \"< 0.01\"\nobjective = 0.999\n"));
  ASSERT_EQ(rules.size(), ttl_defaults());  // one default replaced
  EXPECT_EQ(find(rules, "ttl_expiry_timing_error_seconds"), nullptr);
  const auto* strict = find(rules, "strict_timing");
  ASSERT_NE(strict, nullptr);
  EXPECT_DOUBLE_EQ(strict->objective, 0.999);
  EXPECT_FALSE(strict->threshold.holds(0.02));
}

TEST(SlaRules, DisabledSlaRemovesTheDefault) {
  auto rules =
      build_sla_rules(load("[[sla]]\nprobe = \"ttl\"\nmeasurement = \"expired_reclaim_ratio\"\n"
                           "threshold = \">= 0.95\"\nenabled = false\n"));
  EXPECT_EQ(rules.size(), ttl_defaults() - 1);
  EXPECT_EQ(find(rules, "ttl_expired_reclaim_ratio"), nullptr);
}

TEST(SlaRules, SeveralSlasOnOneMeasurementAllHold) {
  auto rules =
      build_sla_rules(load("[[sla]]\nname = \"timing_tight\"\nprobe = \"ttl\"\nmeasurement = "
                           "\"expiry_timing_error_seconds\"\nthreshold = \"< 0.005\"\n"
                           "[[sla]]\nname = \"timing_loose\"\nprobe = \"ttl\"\nmeasurement = "
                           "\"expiry_timing_error_seconds\"\nthreshold = \"< 0.1\"\n"));
  EXPECT_EQ(rules.size(), ttl_defaults() + 1);  // one default replaced by two
  EXPECT_NE(find(rules, "timing_tight"), nullptr);
  EXPECT_NE(find(rules, "timing_loose"), nullptr);
  EXPECT_EQ(find(rules, "ttl_expiry_timing_error_seconds"), nullptr);
}

// Our spec's figures (USD MRR at risk per family) are the default impact; [[sla]] overrides.
TEST(SlaRules, ImpactDefaultsToTheSpecFigureAndCanBeOverridden) {
  auto rules = build_sla_rules(load(
      "[[sla]]\nname = \"checkout_ttl\"\nprobe = \"ttl\"\nmeasurement = "
      "\"expiry_timing_error_seconds\"\nthreshold = \"< 0.01\"\nimpact = \"checkout sessions\"\n"
      "impact_weight = 25000\n"));
  const auto* accuracy = find(rules, "ttl_expiry_accuracy_ratio");
  ASSERT_NE(accuracy, nullptr);
  EXPECT_DOUBLE_EQ(accuracy->impact_weight, 3000);  // TTL: 3K
  EXPECT_FALSE(accuracy->impact.empty());
  const auto* checkout = find(rules, "checkout_ttl");
  ASSERT_NE(checkout, nullptr);
  EXPECT_EQ(checkout->impact, "checkout sessions");
  EXPECT_DOUBLE_EQ(checkout->impact_weight, 25000);
  // A configured SLA without impact keys inherits the family's default.
  auto inherited =
      build_sla_rules(load("[[sla]]\nname = \"loose\"\nprobe = \"ttl\"\nmeasurement = "
                           "\"expiry_timing_error_seconds\"\nthreshold = \"< 0.1\"\n"));
  ASSERT_NE(find(inherited, "loose"), nullptr);
  EXPECT_DOUBLE_EQ(find(inherited, "loose")->impact_weight, 3000);
}

TEST(SlaRules, EveryFamilyOfTheSpecHasItsFigure) {
  const std::pair<const char*, double> figures[] = {
      {"invalidation", 5000},  {"eviction", 4000}, {"reshard", 8000},      {"stampede", 6000},
      {"warming", 4000},       {"lock", 7000},     {"replication", 12000}, {"ttl", 3000},
      {"serialization", 5000}, {"collision", 4000}};
  for (const auto& [type, weight] : figures) {
    EXPECT_NE(find_probe_type(type), nullptr) << type;
    EXPECT_DOUBLE_EQ(default_impact(type).weight, weight) << type;
    EXPECT_FALSE(default_impact(type).label.empty()) << type;
  }
  EXPECT_DOUBLE_EQ(default_impact("latency").weight, 0);  // no figure in the spec
}

TEST(SlaRules, ImpactWeightMustBeANonNegativeNumber) {
  EXPECT_THROW(load("[[sla]]\nprobe = \"ttl\"\nmeasurement = \"expired_reclaim_ratio\"\n"
                    "threshold = \">= 0.95\"\nimpact_weight = -1\n"),
               ConfigError);
  EXPECT_THROW(load("[[sla]]\nprobe = \"ttl\"\nmeasurement = \"expired_reclaim_ratio\"\n"
                    "threshold = \">= 0.95\"\nimpact_weight = \"lots\"\n"),
               ConfigError);
}

}  // namespace
}  // namespace chaosd
