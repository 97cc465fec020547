// The config loader's schema: defaults, and for every class of mistake the exact file:line:col, key
// path and a fragment of the advice the user gets.

#include "config/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>
#include <string_view>

#include "config/loader.h"
#include "config/params.h"
#include "tests/support/temp_dir.h"

namespace chaosd {
namespace {

using namespace std::chrono_literals;

// Knows two probe types; validates params the way probes/registry.cpp does.
class FakeCatalog : public ProbeCatalog {
 public:
  bool has_type(std::string_view type) const override { return type == "latency" || type == "ttl"; }
  std::vector<std::string> types() const override { return {"latency", "ttl"}; }
  void validate_params(const ProbeConfig& probe, std::string_view key_path) const override {
    ParamReader params(probe.params, std::string(key_path), probe.where.file);
    params.get_int("samples", 10, 1, 100000);
    params.get_duration("pause", 1s, 1ms, 1min);
    params.finish();
  }
  std::vector<std::string> measurements(std::string_view type) const override {
    if (type == "ttl") return {"expiry_timing_error_seconds", "expiry_correct_ratio"};
    return {"latency_seconds", "availability_ratio"};
  }
};

const FakeCatalog kCatalog;

Config load(std::string_view text, const ProbeCatalog* catalog = nullptr) {
  return load_config_string(text, "test.toml", catalog);
}

// Loading `text` must fail at `where` ("test.toml:3:11") on `key_path` with `fragment` in the
// message.
::testing::AssertionResult FailsWith(std::string_view text, std::string_view where,
                                     std::string_view key_path, std::string_view fragment,
                                     const ProbeCatalog* catalog = nullptr) {
  try {
    load(text, catalog);
  } catch (const ConfigError& error) {
    if (error.where().to_string() == where && error.key_path() == key_path &&
        error.message().find(fragment) != std::string::npos) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "got: " << error.what();
  }
  return ::testing::AssertionFailure() << "loaded without error";
}

// Lines 1-3; tests append their own tables from line 4 on.
constexpr std::string_view kTarget = R"([[targets]]
name = "main"
address = "127.0.0.1:6379"
)";

std::string with_target(std::string_view rest) { return std::string(kTarget) + std::string(rest); }

TEST(ConfigErrorTest, WhatNamesPositionKeyAndMessage) {
  ConfigError error({"lab.toml", 12, 7}, "probes[2].interval", "\"5x\" is not a duration");
  EXPECT_STREQ(error.what(), "lab.toml:12:7: probes[2].interval: \"5x\" is not a duration");
  EXPECT_STREQ(ConfigError({"lab.toml", 1, 5}, "", "bad").what(), "lab.toml:1:5: bad");
  EXPECT_EQ(SourceLocation{"x.toml"}.to_string(), "x.toml");  // no position known
}

TEST(LoadConfig, MinimalConfigGetsDefaults) {
  Config config = load(with_target(R"(
[[probes]]
type = "ttl"

[[sla]]
probe = "ttl"
measurement = "expiry_timing_error_seconds"
threshold = "< 0.05"
)"));
  EXPECT_EQ(config.source_file, "test.toml");
  EXPECT_EQ(config.daemon.listen, "127.0.0.1:9490");
  EXPECT_EQ(config.daemon.log_level, "info");
  EXPECT_EQ(config.daemon.log_format, LogFormat::text);
  EXPECT_EQ(config.daemon.key_prefix, "chaosd");
  EXPECT_EQ(config.daemon.shutdown_timeout, 5s);
  ASSERT_EQ(config.targets.size(), 1u);
  const TargetConfig& target = config.targets[0];
  EXPECT_EQ(target.host, "127.0.0.1");
  EXPECT_EQ(target.port, 6379);
  EXPECT_EQ(target.password, std::nullopt);
  EXPECT_EQ(target.db, 0);
  EXPECT_FALSE(target.chaos_allowed);
  EXPECT_EQ(target.where.to_string(), "test.toml:1:1");
  ASSERT_EQ(config.probes.size(), 1u);
  const ProbeConfig& probe = config.probes[0];
  EXPECT_EQ(probe.name, "ttl");     // defaults to the type
  EXPECT_EQ(probe.target, "main");  // the only target
  EXPECT_EQ(probe.interval, 10s);
  EXPECT_EQ(probe.timeout, 5s);
  EXPECT_TRUE(probe.enabled);
  EXPECT_TRUE(probe.params.empty());
  EXPECT_EQ(probe.where.to_string(), "test.toml:5:1");
  ASSERT_EQ(config.slas.size(), 1u);
  const SlaConfig& sla = config.slas[0];
  EXPECT_EQ(sla.name, "ttl_expiry_timing_error_seconds");
  EXPECT_EQ(sla.threshold.op, Comparison::less);
  EXPECT_DOUBLE_EQ(sla.threshold.value, 0.05);
  EXPECT_DOUBLE_EQ(sla.objective, 0.99);
  EXPECT_EQ(sla.windows, (std::vector<Duration>{5min, 1h, 24h, 24h * 30}));
  EXPECT_EQ(config.find_probe("ttl"), &probe);
  EXPECT_EQ(config.find_target("main"), &target);
  EXPECT_EQ(config.find_target("other"), nullptr);
}

constexpr std::string_view kFullConfig = R"([daemon]
listen = "[::1]:9500"
log_level = "debug"
log_format = "json"
state_dir = "/tmp/chaosd state"
key_prefix = "ci-chaos"
shutdown_timeout = "30s"

[[targets]]
name = "primary"
kind = "standalone"
address = "[::1]:7000"
username = "chaos"
password_env = "CHAOSD_TEST_PASSWORD"
db = 3
chaos_allowed = true
connect_timeout = "250ms"
command_timeout = "2s"

[[targets]]
name = "replica"
address = "redis.internal:6380"

[[probes]]
type = "ttl"
name = "ttl-fast"
target = "replica"
interval = "500ms"
timeout = "200ms"
enabled = false
params = { samples = 50, pause = "10ms" }

[[sla]]
name = "expiry-on-time"
probe = "ttl-fast"
measurement = "expiry_correct_ratio"
subjects = "replica-*"
threshold = ">= 0.995"
objective = 0.999
windows = ["1h", "10s", "1d"]
enabled = false
description = "keys \"expire\" on time"
)";

TEST(LoadConfig, ReadsEveryKey) {
  setenv("CHAOSD_TEST_PASSWORD", "s3cret", 1);
  Config config = load(kFullConfig, &kCatalog);
  EXPECT_EQ(config.daemon.listen, "[::1]:9500");
  EXPECT_EQ(config.daemon.log_level, "debug");
  EXPECT_EQ(config.daemon.log_format, LogFormat::json);
  EXPECT_EQ(config.daemon.state_dir, "/tmp/chaosd state");
  EXPECT_EQ(config.daemon.key_prefix, "ci-chaos");
  EXPECT_EQ(config.daemon.shutdown_timeout, 30s);
  const TargetConfig& primary = config.targets.at(0);
  EXPECT_EQ(primary.host, "::1");
  EXPECT_EQ(primary.port, 7000);
  EXPECT_EQ(primary.username, "chaos");
  EXPECT_EQ(primary.password, "s3cret");  // resolved at load time
  EXPECT_EQ(primary.password_env, "CHAOSD_TEST_PASSWORD");
  EXPECT_EQ(primary.db, 3);
  EXPECT_TRUE(primary.chaos_allowed);
  EXPECT_EQ(primary.connect_timeout, 250ms);
  EXPECT_EQ(primary.command_timeout, 2s);
  EXPECT_EQ(config.targets.at(1).host, "redis.internal");
  const ProbeConfig& probe = config.probes.at(0);
  EXPECT_EQ(probe.name, "ttl-fast");
  EXPECT_EQ(probe.target, "replica");
  EXPECT_EQ(probe.interval, 500ms);
  EXPECT_EQ(probe.timeout, 200ms);
  EXPECT_FALSE(probe.enabled);
  EXPECT_EQ(probe.params["samples"].value<int64_t>(), 50);
  // Positions survive loading, so a probe factory can still point at its params.
  EXPECT_EQ(probe.params["samples"].node()->source().begin.line, 31u);
  const SlaConfig& sla = config.slas.at(0);
  EXPECT_EQ(sla.name, "expiry-on-time");
  EXPECT_EQ(sla.threshold.to_string(), ">= 0.995");
  EXPECT_DOUBLE_EQ(sla.objective, 0.999);
  EXPECT_EQ(sla.windows, (std::vector<Duration>{10s, 1h, 24h}));  // sorted
  EXPECT_FALSE(sla.enabled);
  EXPECT_EQ(sla.description, "keys \"expire\" on time");
}

TEST(LoadConfig, ShippedExampleLoads) {
  std::string path = std::string(CHAOSD_SOURCE_DIR) + "/config/examples/minimal.toml";
  Config config = load_config_file(path, nullptr);
  EXPECT_EQ(config.targets.size(), 1u);
  EXPECT_EQ(config.probes.size(), 2u);
  ASSERT_EQ(config.slas.size(), 1u);
  EXPECT_EQ(config.slas[0].probe, "ttl");
  EXPECT_NO_THROW(load_config_file(path, &kCatalog));
}

TEST(LoadConfig, UnreadableFileIsAConfigError) {
  try {
    load_config_file("/nonexistent/chaosd.toml", nullptr);
    FAIL() << "loaded a missing file";
  } catch (const ConfigError& error) {
    EXPECT_EQ(error.where().to_string(), "/nonexistent/chaosd.toml");
    EXPECT_NE(error.message().find("--config"), std::string::npos) << error.what();
  }
}

TEST(LoadConfigErrors, TomlSyntaxErrorKeepsParserPosition) {
  EXPECT_TRUE(FailsWith("[daemon]\nlisten = \n", "test.toml:2:10", "", "expected"));
}

TEST(LoadConfigErrors, UnknownTopLevelTable) {
  EXPECT_TRUE(
      FailsWith(with_target("[alerts]\nenabled = true\n"), "test.toml:4:2", "alerts",
                "unknown key; remove it or use one of: daemon, lab, chaos, targets, probes, "
                "sla"));
}

TEST(LoadConfigErrors, UnknownKeySuggestsTheClosestOne) {
  EXPECT_TRUE(FailsWith("[[targets]]\nname = \"main\"\nadress = \"127.0.0.1:6379\"\n",
                        "test.toml:3:1", "targets[0].adress", "did you mean \"address\"?"));
}

TEST(LoadConfigErrors, WrongTypeNamesBothTypes) {
  EXPECT_TRUE(FailsWith(with_target("[daemon]\nlisten = 9490\n"), "test.toml:5:10", "daemon.listen",
                        "expected a string, got integer"));
  EXPECT_TRUE(FailsWith("daemon = 1\n" + std::string(kTarget), "test.toml:1:10", "daemon",
                        "expected a table ([daemon]), got integer"));
  EXPECT_TRUE(FailsWith("[targets]\nname = \"main\"\n", "test.toml:1:1", "targets",
                        "expected an array of tables ([[targets]]), got table"));
  EXPECT_TRUE(FailsWith(with_target("[daemon]\nshutdown_timeout = 5\n"), "test.toml:5:20",
                        "daemon.shutdown_timeout", "expected a duration string"));
}

TEST(LoadConfigErrors, BadDaemonValues) {
  EXPECT_TRUE(FailsWith(with_target("[daemon]\nlisten = \"127.0.0.1:70000\"\n"), "test.toml:5:10",
                        "daemon.listen", "from 1 to 65535"));
  EXPECT_TRUE(FailsWith(with_target("[daemon]\nlisten = \"::1:9490\"\n"), "test.toml:5:10",
                        "daemon.listen", "\"[::1]:6379\""));
  EXPECT_TRUE(FailsWith(with_target("[daemon]\nlisten = \":9490\"\n"), "test.toml:5:10",
                        "daemon.listen", "no valid host"));
  EXPECT_TRUE(FailsWith(with_target("[daemon]\nlog_level = \"verbose\"\n"), "test.toml:5:13",
                        "daemon.log_level", "use one of: trace, debug, info, warn, error"));
  EXPECT_TRUE(FailsWith(with_target("[daemon]\nkey_prefix = \"a{b}\"\n"), "test.toml:5:14",
                        "daemon.key_prefix", "without spaces, '{' '}'"));
  // A glob character would make key cleanup (SCAN MATCH <prefix>*) delete foreign keys.
  EXPECT_TRUE(FailsWith(with_target("[daemon]\nkey_prefix = \"app*\"\n"), "test.toml:5:14",
                        "daemon.key_prefix", "glob characters"));
  EXPECT_TRUE(FailsWith(with_target("[daemon]\nstate_dir = \"\"\n"), "test.toml:5:13",
                        "daemon.state_dir", "must not be empty"));
}

TEST(LoadConfigErrors, AtLeastOneTargetIsRequired) {
  EXPECT_TRUE(FailsWith("[daemon]\nlog_level = \"info\"\n", "test.toml:1:1", "targets",
                        "add a [[targets]] table"));
}

TEST(LoadConfigErrors, MissingRequiredKeyPointsAtTheTable) {
  EXPECT_TRUE(FailsWith("[daemon]\n\n[[targets]]\nname = \"main\"\n", "test.toml:3:1",
                        "targets[0].address", "missing required key \"address\"; add e.g."));
}

TEST(LoadConfigErrors, BadTargets) {
  std::string second = "[[targets]]\nname = \"main\"\naddress = \"127.0.0.1:6380\"\n";
  EXPECT_TRUE(FailsWith(with_target(second), "test.toml:5:8", "targets[1].name",
                        "duplicate name \"main\" (the other one is at test.toml:2:8)"));
  EXPECT_TRUE(FailsWith("[[targets]]\nname = \"my redis\"\naddress = \"h:1\"\n", "test.toml:2:8",
                        "targets[0].name", "use only letters, digits"));
  EXPECT_TRUE(FailsWith(with_target("kind = \"sentinel\"\n"), "test.toml:4:8", "targets[0].kind",
                        "use one of: standalone, replicated, cluster, regions"));
  EXPECT_TRUE(FailsWith(with_target("kind = \"cluster\"\n"), "test.toml:3:11", "targets[0].address",
                        "does not apply to kind = \"cluster\""));
  EXPECT_TRUE(FailsWith(with_target("db = 10001\n"), "test.toml:4:6", "targets[0].db",
                        "10001 is out of range (0..10000)"));
  EXPECT_TRUE(FailsWith(with_target("command_timeout = \"2h\"\n"), "test.toml:4:19",
                        "targets[0].command_timeout", "longer than the maximum of 1h"));
  EXPECT_TRUE(FailsWith(with_target("connect_timeout = \"0s\"\n"), "test.toml:4:19",
                        "targets[0].connect_timeout", "must be longer than 0"));
}

TEST(LoadConfigErrors, PasswordAndPasswordEnvExcludeEachOther) {
  setenv("CHAOSD_TEST_PASSWORD", "x", 1);
  EXPECT_TRUE(FailsWith(with_target("password = \"a\"\npassword_env = \"CHAOSD_TEST_PASSWORD\"\n"),
                        "test.toml:5:16", "targets[0].password_env", "not both"));
}

TEST(LoadConfigErrors, PasswordEnvMustBeSet) {
  unsetenv("CHAOSD_TEST_UNSET");
  EXPECT_TRUE(FailsWith(with_target("password_env = \"CHAOSD_TEST_UNSET\"\n"), "test.toml:4:16",
                        "targets[0].password_env",
                        "environment variable \"CHAOSD_TEST_UNSET\" is not set"));
}

TEST(LoadConfigErrors, BadDurationSaysHowToWriteOne) {
  EXPECT_TRUE(FailsWith(with_target("[[probes]]\ntype = \"ttl\"\ninterval = \"5x\"\n"),
                        "test.toml:6:12", "probes[0].interval",
                        R"("5x" is not a duration (use e.g. "500ms", "5s", "1m"))"));
  EXPECT_TRUE(FailsWith(with_target("[[probes]]\ntype = \"ttl\"\ninterval = \"5ms\"\n"),
                        "test.toml:6:12", "probes[0].interval",
                        "shorter than the minimum of 10ms"));
  EXPECT_TRUE(FailsWith(with_target("[[probes]]\ntype = \"ttl\"\ntimeout = \"61m\"\n"),
                        "test.toml:6:11", "probes[0].timeout", "longer than the maximum of 1h"));
}

TEST(LoadConfigErrors, ProbeTypeIsRequiredAndChecked) {
  EXPECT_TRUE(FailsWith(with_target("[[probes]]\nname = \"x\"\n"), "test.toml:4:1",
                        "probes[0].type", "missing required key \"type\""));
  EXPECT_TRUE(FailsWith(
      with_target("[[probes]]\ntype = \"tll\"\n"), "test.toml:5:8", "probes[0].type",
      "unknown probe type \"tll\"; did you mean \"ttl\"? known types: latency, ttl", &kCatalog));
}

TEST(LoadConfigErrors, DuplicateProbeNamesAskForDistinctNames) {
  EXPECT_TRUE(FailsWith(with_target("[[probes]]\ntype = \"ttl\"\n\n[[probes]]\ntype = \"ttl\"\n"),
                        "test.toml:7:1", "probes[1].name",
                        "(the other one is at test.toml:4:1); give each [[probes]] a distinct "
                        "`name`"));
}

TEST(LoadConfigErrors, ProbeTargetMustExist) {
  std::string two = with_target("[[targets]]\nname = \"b\"\naddress = \"h:2\"\n");
  EXPECT_TRUE(FailsWith(two + "[[probes]]\ntype = \"ttl\"\n", "test.toml:7:1", "probes[0].target",
                        "there are 2 targets (main, b)"));
  EXPECT_TRUE(FailsWith(two + "[[probes]]\ntype = \"ttl\"\ntarget = \"c\"\n", "test.toml:9:10",
                        "probes[0].target", "no target named \"c\"; known targets: main, b"));
}

TEST(LoadConfigErrors, ProbeParamsAreValidatedWithTheirPositions) {
  std::string probe = "[[probes]]\ntype = \"ttl\"\n[probes.params]\n";
  EXPECT_TRUE(FailsWith(with_target(probe + "samples = 0\n"), "test.toml:7:11",
                        "probes[0].params.samples", "0 is out of range (1..100000)", &kCatalog));
  EXPECT_TRUE(FailsWith(with_target(probe + "pause = \"1s\"\nsampels = 5\n"), "test.toml:8:1",
                        "probes[0].params.sampels",
                        "unknown parameter; did you mean \"samples\"? known ones: pause, samples",
                        &kCatalog));
  EXPECT_TRUE(FailsWith(with_target("[[probes]]\ntype = \"ttl\"\nparams = 3\n"), "test.toml:6:10",
                        "probes[0].params", "expected a table, got integer"));
}

constexpr std::string_view kProbe = R"([[probes]]
type = "ttl"
)";  // lines 4-5 after kTarget

std::string with_probe(std::string_view sla) {
  return with_target(kProbe) + "[[sla]]\n" + std::string(sla);  // [[sla]] on line 6
}

constexpr std::string_view kSlaBase = R"(probe = "ttl"
measurement = "expiry_timing_error_seconds"
threshold = "< 0.05"
)";  // lines 7-9

TEST(LoadConfigErrors, SlaProbeMustExist) {
  EXPECT_TRUE(FailsWith(with_probe("probe = \"lock\"\n"), "test.toml:7:9", "sla[0].probe",
                        "no probe named \"lock\"; configured probes: ttl"));
  EXPECT_TRUE(FailsWith(with_probe("measurement = \"x\"\n"), "test.toml:6:1", "sla[0].probe",
                        "missing required key \"probe\""));
}

TEST(LoadConfigErrors, SlaMeasurementMustBeProducedByTheProbe) {
  EXPECT_TRUE(FailsWith(with_probe("probe = \"ttl\"\nmeasurement = \"latency_seconds\"\n"),
                        "test.toml:8:15", "sla[0].measurement",
                        "it produces: expiry_timing_error_seconds, expiry_correct_ratio",
                        &kCatalog));
}

TEST(LoadConfigErrors, SlaThresholdMustParse) {
  std::string sla = "probe = \"ttl\"\nmeasurement = \"m\"\nthreshold = \"<< 1\"\n";
  EXPECT_TRUE(FailsWith(with_probe(sla), "test.toml:9:13", "sla[0].threshold",
                        R"("<< 1" is not a threshold (use e.g. "< 0.05")"));
  EXPECT_TRUE(FailsWith(with_probe("probe = \"ttl\"\nmeasurement = \"m\"\n"), "test.toml:6:1",
                        "sla[0].threshold", "missing required key \"threshold\""));
}

TEST(LoadConfigErrors, SlaObjectiveIsAFraction) {
  std::string base(kSlaBase);
  EXPECT_TRUE(FailsWith(with_probe(base + "objective = 1\n"), "test.toml:10:13", "sla[0].objective",
                        "strictly between 0 and 1 (e.g. 0.999), got integer 1"));
  EXPECT_TRUE(FailsWith(with_probe(base + "objective = 1.0\n"), "test.toml:10:13",
                        "sla[0].objective", "1 is not strictly between 0 and 1"));
  EXPECT_TRUE(FailsWith(with_probe(base + "objective = \"99%\"\n"), "test.toml:10:13",
                        "sla[0].objective", "got string"));
}

TEST(LoadConfigErrors, SlaWindows) {
  std::string base(kSlaBase);
  EXPECT_TRUE(FailsWith(with_probe(base + "windows = [\"1h\", \"5m\", \"60m\"]\n"),
                        "test.toml:10:24", "sla[0].windows[2]",
                        "repeats the window 1h of sla[0].windows[0]"));
  EXPECT_TRUE(FailsWith(with_probe(base + "windows = [\"1h\", \"5s\"]\n"), "test.toml:10:18",
                        "sla[0].windows[1]", "shorter than the minimum of 10s"));
  EXPECT_TRUE(FailsWith(with_probe(base + "windows = []\n"), "test.toml:10:11", "sla[0].windows",
                        "at least one window"));
  EXPECT_TRUE(FailsWith(with_probe(base + "windows = \"1h\"\n"), "test.toml:10:11",
                        "sla[0].windows", "expected an array of durations"));
}

TEST(LoadConfigErrors, DuplicateSlaNames) {
  std::string sla(kSlaBase);
  EXPECT_TRUE(FailsWith(with_probe(sla + "\n[[sla]]\n" + sla), "test.toml:11:1", "sla[1].name",
                        "duplicate name \"ttl_expiry_timing_error_seconds\" (the other one is at "
                        "test.toml:6:1)"));
}

TEST(PrintConfig, RoundTripsWithDefaultsFilledIn) {
  setenv("CHAOSD_TEST_PASSWORD", "s3cret", 1);
  Config original = load(kFullConfig, &kCatalog);
  std::string printed = print_config(original);
  EXPECT_EQ(printed.find("s3cret"), std::string::npos) << printed;
  Config again = load_config_string(printed, "printed.toml", &kCatalog);
  std::string reprinted = print_config(again);
  auto body = [](const std::string& text) { return text.substr(text.find('\n')); };
  EXPECT_EQ(body(reprinted), body(printed));  // only the header line names the source
  EXPECT_EQ(again.daemon.listen, original.daemon.listen);
  EXPECT_EQ(again.daemon.log_format, original.daemon.log_format);
  EXPECT_EQ(again.targets.at(0).host, "::1");
  EXPECT_EQ(again.targets.at(0).password, "s3cret");  // via password_env again
  EXPECT_EQ(again.targets.at(1).connect_timeout, 1s);
  EXPECT_EQ(again.probes.at(0).params, original.probes.at(0).params);
  EXPECT_EQ(again.slas.at(0).windows, original.slas.at(0).windows);
  EXPECT_DOUBLE_EQ(again.slas.at(0).objective, 0.999);
  EXPECT_EQ(again.slas.at(0).description, original.slas.at(0).description);
  EXPECT_EQ(again.slas.at(0).subjects, "replica-*");
}

TEST(PrintConfig, RedactsInlinePasswords) {
  std::string printed = print_config(load(with_target("password = \"hunter2\"\n")));
  EXPECT_EQ(printed.find("hunter2"), std::string::npos) << printed;
  EXPECT_NE(printed.find("password = \"<redacted>\"  #"), std::string::npos) << printed;
  EXPECT_EQ(load_config_string(printed, "printed.toml", nullptr).targets[0].password, "<redacted>");
}

TEST(Threshold, ParsesEveryOperatorWithOrWithoutSpaces) {
  struct Case {
    std::string_view text;
    Comparison op;
    double value;
  };
  for (const Case& c :
       {Case{"< 0.05", Comparison::less, 0.05}, Case{">=0.995", Comparison::greater_equal, 0.995},
        Case{"== 0", Comparison::equal, 0}, Case{"!= 1", Comparison::not_equal, 1},
        Case{"  <= -2.5 ", Comparison::less_equal, -2.5},
        Case{">1e3", Comparison::greater, 1000}}) {
    std::optional<Threshold> parsed = parse_threshold(c.text);
    ASSERT_TRUE(parsed) << c.text;
    EXPECT_EQ(parsed->op, c.op) << c.text;
    EXPECT_DOUBLE_EQ(parsed->value, c.value) << c.text;
    EXPECT_EQ(parse_threshold(parsed->to_string())->value, parsed->value);
  }
}

TEST(Threshold, RejectsMalformedText) {
  for (std::string_view text : {"", "0.05", "<", "< ", "=< 1", "= 1", "<< 1", "< 1 2", "< x",
                                "< 0.05s", "< inf", "< nan", "=> 1"}) {
    EXPECT_EQ(parse_threshold(text), std::nullopt) << text;
  }
}

TEST(Threshold, HoldsAndPrints) {
  EXPECT_TRUE(parse_threshold("< 0.05")->holds(0.01));
  EXPECT_FALSE(parse_threshold("< 0.05")->holds(0.05));
  EXPECT_TRUE(parse_threshold("<= 0.05")->holds(0.05));
  EXPECT_TRUE(parse_threshold(">= 0.995")->holds(0.995));
  EXPECT_FALSE(parse_threshold("> 1")->holds(1));
  EXPECT_TRUE(parse_threshold("== 0")->holds(0));
  EXPECT_TRUE(parse_threshold("!= 0")->holds(1));
  EXPECT_EQ(parse_threshold(">=0.995")->to_string(), ">= 0.995");
  EXPECT_EQ(parse_threshold("==0")->to_string(), "== 0");
}

class ParamReaderTest : public ::testing::Test {
 protected:
  // Parsed (not built) so that the nodes carry positions.
  toml::table params_ = toml::parse(R"(samples = 0
ratio = 1
mode = "fast"
pause = "5x"
flag = "yes"
extra = 1
)",
                                    std::string_view("p.toml"));
  ParamReader reader_{params_, "probes[0].params", "p.toml"};

  ::testing::AssertionResult Throws(auto&& call, std::string_view expected_what) {
    try {
      call();
    } catch (const ConfigError& error) {
      if (error.what() == expected_what) return ::testing::AssertionSuccess();
      return ::testing::AssertionFailure() << "got: " << error.what();
    }
    return ::testing::AssertionFailure() << "did not throw";
  }
};

TEST_F(ParamReaderTest, GettersCheckTypeAndRange) {
  EXPECT_TRUE(Throws([&] { reader_.get_int("samples", 10, 1, 100000); },
                     "p.toml:1:11: probes[0].params.samples: 0 is out of range (1..100000)"));
  EXPECT_DOUBLE_EQ(reader_.get_double("ratio", 0.5, 0, 1), 1.0);  // integers are fine here
  EXPECT_TRUE(Throws([&] { reader_.get_double("ratio", 0.5, 0, 0.9); },
                     "p.toml:2:9: probes[0].params.ratio: 1 is out of range (0..0.9)"));
  EXPECT_TRUE(Throws(
      [&] {
        reader_.get_string("mode", "slow", {"slow", "exact"});
      },
      "p.toml:3:8: probes[0].params.mode: \"fast\" is not allowed here; use one of: "
      "slow, exact"));
  EXPECT_EQ(reader_.get_string("mode", "slow"), "fast");
  EXPECT_TRUE(Throws([&] { reader_.get_duration("pause", 1s, 1ms, 1min); },
                     "p.toml:4:9: probes[0].params.pause: \"5x\" is not a duration (use e.g. "
                     "\"500ms\", \"5s\", \"1m\")"));
  EXPECT_TRUE(Throws([&] { reader_.get_bool("flag", false); },
                     "p.toml:5:8: probes[0].params.flag: expected a boolean (true or false), got "
                     "string"));
}

TEST_F(ParamReaderTest, AbsentKeysFallBack) {
  EXPECT_EQ(reader_.get_int("absent", 7, 1, 10), 7);
  EXPECT_EQ(reader_.get_duration("absent_too", 2s, 1s, 3s), 2s);
  EXPECT_TRUE(reader_.get_bool("missing", true));
}

TEST_F(ParamReaderTest, FinishRejectsTheFirstUnusedKeyListingKnownOnes) {
  reader_.get_double("ratio", 0.5, 0, 1);
  reader_.get_string("mode", "slow");
  EXPECT_TRUE(Throws([&] { reader_.finish(); },
                     "p.toml:1:1: probes[0].params.samples: unknown parameter; known ones: mode, "
                     "ratio"));
  toml::table used = toml::parse("a = 1\n");
  ParamReader all(used, "probes[0].params", "p.toml");
  all.get_int("a", 0, 0, 10);
  EXPECT_NO_THROW(all.finish());
}

TEST(LoadConfigKinds, ClusterReplicatedAndRegionsTargets) {
  Config config = load(R"([[targets]]
name = "c"
kind = "cluster"
seeds = ["127.0.0.1:7000", "127.0.0.1:7001"]

[[targets]]
name = "r"
kind = "replicated"
address = "127.0.0.1:6380"
replicas = ["127.0.0.1:6381"]

[[targets]]
name = "g"
kind = "regions"
regions = [{ name = "eu", address = "127.0.0.1:6390", writable = true },
           { name = "us", address = "127.0.0.1:6391" }]
)");
  ASSERT_EQ(config.targets.size(), 3u);
  EXPECT_EQ(config.targets[0].kind, TargetKind::cluster);
  EXPECT_EQ(config.targets[0].seeds.size(), 2u);
  EXPECT_EQ(config.targets[0].port, 7000);
  EXPECT_EQ(config.targets[1].replicas.at(0).port, 6381);
  EXPECT_EQ(config.targets[2].regions.size(), 2u);
  EXPECT_EQ(config.targets[2].port, 6390);  // the writable region is the primary
  // Round trip through --print-config.
  Config again = load(print_config(config));
  EXPECT_EQ(again.targets[2].regions[1].address.to_string(), "127.0.0.1:6391");
  EXPECT_EQ(again.targets[0].seeds, config.targets[0].seeds);
}

TEST(LoadConfigKinds, KindSpecificMistakes) {
  EXPECT_TRUE(FailsWith("[[targets]]\nname = \"c\"\nkind = \"cluster\"\n", "test.toml:1:1",
                        "targets[0].seeds", "list at least one node"));
  EXPECT_TRUE(
      FailsWith("[[targets]]\nname = \"g\"\nkind = \"regions\"\nregions = [{ name = "
                "\"eu\", address = \"h:1\" }, { name = \"us\", address = \"h:2\" }]\n",
                "test.toml:4:11", "targets[0].regions", "no region is writable"));
  EXPECT_TRUE(FailsWith(with_target("replicas = [\"h:1\"]\n"), "test.toml:4:12",
                        "targets[0].replicas", "use kind = \"replicated\""));
}

TEST(LoadConfigKinds, LabTopologiesBecomeTargets) {
  Config config = load(
      "[lab]\ntopologies = [\"standalone\", \"cluster\"]\n"
      "[[probes]]\ntype = \"latency\"\ntarget = \"cluster\"\n");
  ASSERT_EQ(config.targets.size(), 2u);
  EXPECT_TRUE(config.lab.enabled);
  EXPECT_TRUE(config.targets[1].lab);
  EXPECT_EQ(config.targets[1].kind, TargetKind::cluster);
  EXPECT_TRUE(config.targets[1].chaos_allowed);
  EXPECT_TRUE(FailsWith("[lab]\ntopologies = [\"sentinel\"]\n", "test.toml:2:14", "lab.topologies",
                        "not a lab topology"));
  EXPECT_TRUE(
      FailsWith("[lab]\ntopologies = [\"standalone\"]\n[[targets]]\nname = "
                "\"standalone\"\naddress = \"h:1\"\n",
                "test.toml:4:8", "targets[0].name", "duplicate name"));
}

}  // namespace
}  // namespace chaosd

namespace chaosd {
namespace {

TEST(ChaosConfig, OffByDefaultWithDefaults) {
  Config config = load(with_target(""));
  EXPECT_FALSE(config.chaos.enabled);
  EXPECT_EQ(config.chaos.max_active_faults, 1);
  EXPECT_EQ(config.chaos.max_fault_duration, std::chrono::hours(1));
  EXPECT_FALSE(config.chaos.deadman.has_value());
}

TEST(ChaosConfig, TokenFromFileOrEnvAndEveryKey) {
  test::TempDir dir;
  auto file = dir.write("token", "0123456789abcdef0123\n");
  unsetenv(kChaosTokenEnv);
  Config config = load(with_target("[chaos]\nenabled = true\ntoken_file = \"" + file.string() +
                                   "\"\nmax_active_faults = 3\nmax_fault_duration = \"10m\"\n"
                                   "deadman_seconds = 30\n"));
  EXPECT_TRUE(config.chaos.enabled);
  EXPECT_EQ(config.chaos.token, "0123456789abcdef0123");
  EXPECT_EQ(config.chaos.max_active_faults, 3);
  EXPECT_EQ(config.chaos.max_fault_duration, std::chrono::minutes(10));
  EXPECT_EQ(config.chaos.deadman, std::chrono::seconds(30));
  setenv(kChaosTokenEnv, "from-the-environment-1234", 1);
  Config from_env = load(with_target("[chaos]\nenabled = true\n"));
  EXPECT_EQ(from_env.chaos.token, "from-the-environment-1234");
  unsetenv(kChaosTokenEnv);
}

TEST(ChaosConfig, EnabledWithoutTokenIsAnError) {
  unsetenv(kChaosTokenEnv);
  EXPECT_TRUE(FailsWith(with_target("[chaos]\nenabled = true\n"), "test.toml:5:11", "chaos.enabled",
                        "no token for the HTTP API; set token_file"));
  // The lab alone may start without one: the daemon generates it.
  Config lab = load("[lab]\ntopologies = [\"standalone\"]\n[chaos]\nenabled = true\n");
  EXPECT_TRUE(lab.chaos.enabled);
  EXPECT_TRUE(lab.chaos.token.empty());
  // Not once an external target allows chaos: a token in a log line would be its only key.
  EXPECT_TRUE(
      FailsWith("[lab]\ntopologies = [\"standalone\"]\n[chaos]\nenabled = true\n"
                "[[targets]]\nname = \"staging\"\naddress = \"127.0.0.1:7000\"\n"
                "chaos_allowed = true\n",
                "test.toml:4:11", "chaos.enabled",
                "no token for the HTTP API (target \"staging\" is not a lab node"));
  Config external_no_chaos = load(
      "[lab]\ntopologies = [\"standalone\"]\n[chaos]\nenabled = true\n"
      "[[targets]]\nname = \"staging\"\naddress = \"127.0.0.1:7000\"\n");
  EXPECT_TRUE(external_no_chaos.chaos.token.empty());
}

TEST(ChaosConfig, NodeCommandsOfExternalTargets) {
  Config config = load(
      "[[targets]]\nname = \"staging\"\naddress = \"127.0.0.1:7000\"\n"
      "kill_command = [\"systemctl\", \"kill\", \"redis@{port}\"]\n"
      "restart_command = [\"systemctl\", \"restart\", \"redis@{port}\"]\n");
  EXPECT_EQ(config.targets[0].kill_command,
            (std::vector<std::string>{"systemctl", "kill", "redis@{port}"}));
  EXPECT_EQ(config.targets[0].restart_command.back(), "redis@{port}");
  Config again = load(print_config(config));
  EXPECT_EQ(again.targets[0].restart_command, config.targets[0].restart_command);
  EXPECT_TRUE(
      FailsWith("[[targets]]\nname = \"staging\"\naddress = \"127.0.0.1:7000\"\n"
                "restart_command = []\n",
                "test.toml:4:19", "targets[0].restart_command", "needs a program"));
}

TEST(LoadConfigKinds, ProxyListenFrontsStandaloneAndReplicatedTargetsOnLoopback) {
  Config config = load(
      "[[targets]]\nname = \"main\"\naddress = \"127.0.0.1:6379\"\n"
      "proxy_listen = \"127.0.0.1:16379\"\n");
  EXPECT_EQ(config.targets[0].proxy_listen, "127.0.0.1:16379");
  EXPECT_EQ(load(print_config(config)).targets[0].proxy_listen, "127.0.0.1:16379");
  EXPECT_TRUE(
      FailsWith("[[targets]]\nname = \"main\"\naddress = \"127.0.0.1:6379\"\n"
                "proxy_listen = \"0.0.0.0:16379\"\n",
                "test.toml:4:16", "targets[0].proxy_listen", "loopback only"));
  EXPECT_TRUE(
      FailsWith("[[targets]]\nname = \"c\"\nkind = \"cluster\"\n"
                "seeds = [\"127.0.0.1:7000\"]\nproxy_listen = \"127.0.0.1:16379\"\n",
                "test.toml:5:16", "targets[0].proxy_listen", "only a standalone"));
  EXPECT_TRUE(
      FailsWith("[[targets]]\nname = \"main\"\naddress = \"127.0.0.1:6379\"\n"
                "proxy_listen = \"nope\"\n",
                "test.toml:4:16", "targets[0].proxy_listen", ""));
}

TEST(ChaosConfig, ShortTokenFromTheEnvironmentIsAnError) {
  setenv(kChaosTokenEnv, "short-token", 1);
  EXPECT_TRUE(FailsWith(with_target("[chaos]\nenabled = true\n"), "test.toml:5:11", "chaos.enabled",
                        "has 11 characters; it needs at least 16"));
  unsetenv(kChaosTokenEnv);
}

TEST(ChaosConfig, BadValues) {
  EXPECT_TRUE(FailsWith(with_target("[chaos]\ntoken_file = \"/nonexistent/token\"\n"),
                        "test.toml:5:14", "chaos.token_file", "cannot read"));
  EXPECT_TRUE(FailsWith(with_target("[chaos]\nmax_active_faults = 0\n"), "test.toml:5:21",
                        "chaos.max_active_faults", ""));
  EXPECT_TRUE(FailsWith(with_target("[chaos]\ndeadman = 5\n"), "test.toml:5:1", "chaos.deadman",
                        "unknown key; remove it or use one of: enabled, token_file"));
  test::TempDir dir;
  auto file = dir.write("token", "short\n");
  EXPECT_TRUE(FailsWith(with_target("[chaos]\ntoken_file = \"" + file.string() + "\"\n"),
                        "test.toml:5:14", "chaos.token_file", "at least 16 characters"));
}

TEST(PrintConfig, RedactsTheChaosToken) {
  setenv(kChaosTokenEnv, "do-not-print-this-token", 1);
  Config config = load(with_target("[chaos]\nenabled = true\ndeadman_seconds = 20\n"));
  std::string printed = print_config(config);
  EXPECT_EQ(printed.find("do-not-print-this-token"), std::string::npos) << printed;
  EXPECT_NE(printed.find("<redacted>"), std::string::npos) << printed;
  Config again = load(printed);
  EXPECT_EQ(again.chaos.deadman, std::chrono::seconds(20));
  EXPECT_EQ(again.chaos.token, "do-not-print-this-token");
  unsetenv(kChaosTokenEnv);
}

std::string chaos_target(std::string_view rest) {
  setenv(kChaosTokenEnv, "unit-test-token-0123456789", 1);
  return std::string(
             "[chaos]\nenabled = true\n[[targets]]\nname = \"main\"\n"
             "address = \"127.0.0.1:6379\"\nchaos_allowed = true\n") +
         std::string(rest);
}

TEST(ExperimentsConfig, ReadsEveryKeyAndRoundTrips) {
  Config config = load(chaos_target(
      "[[experiments]]\nname = \"squeeze\"\nfault = \"memory_pressure\"\ntarget = \"main\"\n"
      "node = \"127.0.0.1:6379\"\nduration = \"20s\"\ninterval = \"10m\"\n"
      "abort_on = [\"latency_availability_ratio\"]\ndry_run = true\n"
      "params = { maxmemory = \"8mb\" }\n"
      "[[experiments]]\nname = \"kill\"\nfault = \"node_kill\"\ntarget = \"main\"\n"));
  ASSERT_EQ(config.experiments.size(), 2u);
  const ExperimentConfig& squeeze = config.experiments[0];
  EXPECT_EQ(squeeze.fault, "memory_pressure");
  EXPECT_EQ(squeeze.node, "127.0.0.1:6379");
  EXPECT_EQ(squeeze.duration, std::chrono::seconds(20));
  EXPECT_EQ(squeeze.interval, std::chrono::minutes(10));
  EXPECT_EQ(squeeze.abort_on, std::vector<std::string>{"latency_availability_ratio"});
  EXPECT_TRUE(squeeze.dry_run);
  EXPECT_EQ(squeeze.params["maxmemory"].value<std::string>(), "8mb");
  EXPECT_FALSE(config.experiments[1].interval.has_value());  // on demand
  EXPECT_EQ(config.experiments[1].duration, std::chrono::seconds(30));
  Config again = load(print_config(config));
  ASSERT_EQ(again.experiments.size(), 2u);
  EXPECT_EQ(again.experiments[0].interval, std::chrono::minutes(10));
  EXPECT_EQ(again.experiments[0].params["maxmemory"].value<std::string>(), "8mb");
  EXPECT_TRUE(again.experiments[0].dry_run);
}

TEST(ExperimentsConfig, Errors) {
  const std::string head = "[[experiments]]\nname = \"x\"\nfault = \"memory_pressure\"\n";
  EXPECT_TRUE(FailsWith(chaos_target(head + "target = \"nope\"\n"), "test.toml:10:10",
                        "experiments[0].target", "no target named \"nope\""));
  EXPECT_TRUE(FailsWith(chaos_target("[[targets]]\nname = \"other\"\naddress = \"h:1\"\n" + head +
                                     "target = \"other\"\n"),
                        "test.toml:13:10", "experiments[0].target", "does not allow chaos"));
  EXPECT_TRUE(FailsWith(chaos_target(head + "target = \"main\"\ntrigger = \"interval\"\n"),
                        "test.toml:7:1", "experiments[0].interval", "needs interval"));
  EXPECT_TRUE(FailsWith(chaos_target(head + "target = \"main\"\nduration = \"2h\"\n"),
                        "test.toml:11:12", "experiments[0].duration", ""));
  EXPECT_TRUE(FailsWith(with_target("chaos_allowed = true\n" + head + "target = \"main\"\n"),
                        "test.toml:7:9", "experiments[0].fault", "add [chaos] enabled = true"));
}

TEST(ExperimentsConfig, DailyWindow) {
  using std::chrono::hours;
  using std::chrono::minutes;
  auto at = [](int hour, int minute) {
    return std::chrono::system_clock::time_point(std::chrono::hours(24 * 20000) + hours(hour) +
                                                 minutes(minute));
  };
  auto night = parse_daily_window("02:00-04:30");
  ASSERT_TRUE(night.has_value());
  EXPECT_EQ(night->to_string(), "02:00-04:30");
  EXPECT_FALSE(night->contains(at(1, 59)));
  EXPECT_TRUE(night->contains(at(2, 0)));
  EXPECT_TRUE(night->contains(at(4, 29)));
  EXPECT_FALSE(night->contains(at(4, 30)));
  auto across = parse_daily_window("23:00-01:00");
  ASSERT_TRUE(across.has_value());
  EXPECT_TRUE(across->contains(at(23, 30)));
  EXPECT_TRUE(across->contains(at(0, 30)));
  EXPECT_FALSE(across->contains(at(12, 0)));
  for (const char* bad : {"", "2:00-4:00", "02:00-02:00", "24:00-01:00", "02:60-03:00",
                          "02:00 04:00", "02:00-04:00x"}) {
    EXPECT_FALSE(parse_daily_window(bad).has_value()) << bad;
  }
  const std::string head =
      "[[experiments]]\nname = \"x\"\nfault = \"memory_pressure\"\ntarget = \"main\"\n";
  Config config = load(chaos_target(head + "interval = \"10m\"\nwindow = \"02:00-04:30\"\n"));
  EXPECT_EQ(config.experiments[0].window->start_minute, 120);
  EXPECT_EQ(load(print_config(config)).experiments[0].window->end_minute, 270);
  EXPECT_TRUE(FailsWith(chaos_target(head + "interval = \"10m\"\nwindow = \"2am\"\n"),
                        "test.toml:12:10", "experiments[0].window", "not a daily window"));
  EXPECT_TRUE(FailsWith(chaos_target(head + "window = \"02:00-04:00\"\n"), "test.toml:11:10",
                        "experiments[0].window", "add interval"));
  // Where the occurrence that holds a time opened: today, or yesterday across midnight.
  EXPECT_EQ(night->opened_at(at(3, 10)), at(2, 0));
  EXPECT_EQ(across->opened_at(at(23, 30)), at(23, 0));
  EXPECT_EQ(across->opened_at(at(0, 30)), at(-1, 0));  // 23:00 the day before
}

TEST(ExperimentsConfig, DailyTriggerNeedsAWindowAndNoInterval) {
  const std::string head =
      "[[experiments]]\nname = \"x\"\nfault = \"memory_pressure\"\ntarget = \"main\"\n";
  Config config = load(chaos_target(head + "trigger = \"daily\"\nwindow = \"02:00-04:30\"\n"));
  EXPECT_TRUE(config.experiments[0].daily);
  EXPECT_FALSE(config.experiments[0].interval.has_value());
  EXPECT_STREQ(config.experiments[0].trigger(), "daily");
  Config again = load(print_config(config));
  EXPECT_TRUE(again.experiments[0].daily);
  EXPECT_EQ(again.experiments[0].window->start_minute, 120);
  EXPECT_TRUE(FailsWith(chaos_target(head + "trigger = \"daily\"\n"), "test.toml:7:1",
                        "experiments[0].window", "trigger = \"daily\" needs window"));
  EXPECT_TRUE(FailsWith(
      chaos_target(head + "trigger = \"daily\"\ninterval = \"1h\"\nwindow = \"02:00-04:00\"\n"),
      "test.toml:12:12", "experiments[0].interval", "runs once a day"));
}

}  // namespace
}  // namespace chaosd
