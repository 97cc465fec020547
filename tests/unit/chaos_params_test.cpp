// Fault params are validated next to each fault's factory (ParamReader: file:line:col, key path),
// and every fault is rebuilt from its record alone.

#include <gtest/gtest.h>

#include "chaos/faults/network.h"
#include "chaos/registry.h"
#include "config/params.h"

namespace chaosd {
namespace {

// Parses `params = {...}` from a small TOML text and runs the fault type's factory on it.
std::string create_error(const std::string& type, const std::string& params_toml) {
  const std::string text = "params = " + params_toml + "\n";
  toml::table doc = toml::parse(std::string_view(text), std::string_view("f.toml"));
  const FaultType* t = find_fault_type(type);
  if (t == nullptr) return "no fault type " + type;
  try {
    t->create(*doc["params"].as_table(), "experiments[0].params", "f.toml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(ChaosParams, RegistryListsEveryFault) {
  for (const char* type :
       {"client_kill", "failover", "flush_namespace", "memory_pressure", "network_bandwidth",
        "network_jitter", "network_latency", "network_partition", "network_reset", "node_kill",
        "node_pause", "reshard"}) {
    EXPECT_NE(find_fault_type(type), nullptr) << type;
  }
  EXPECT_EQ(find_fault_type("meteor_strike"), nullptr);
}

TEST(ChaosParams, ByteSizes) {
  EXPECT_EQ(parse_byte_size("8mb"), 8 << 20);
  EXPECT_EQ(parse_byte_size("8MB"), 8 << 20);
  EXPECT_EQ(parse_byte_size("512kb"), 512 << 10);
  EXPECT_EQ(parse_byte_size("1gb"), int64_t{1} << 30);
  EXPECT_EQ(parse_byte_size("1234"), 1234);
  EXPECT_EQ(parse_byte_size("1234b"), 1234);
  EXPECT_FALSE(parse_byte_size(""));
  EXPECT_FALSE(parse_byte_size("mb"));
  EXPECT_FALSE(parse_byte_size("-1mb"));
  EXPECT_FALSE(parse_byte_size("8 mb"));
  EXPECT_FALSE(parse_byte_size("8tb"));
  EXPECT_FALSE(parse_byte_size("99999999999999999gb"));
}

TEST(ChaosParams, MemoryPressure) {
  EXPECT_EQ(create_error("memory_pressure", "{ maxmemory = \"8mb\" }"), "");
  EXPECT_EQ(create_error("memory_pressure", "{ maxmemory = 2097152, policy = \"allkeys-lru\" }"),
            "");
  EXPECT_EQ(create_error("memory_pressure", "{ fill_ratio = 0.5 }"), "");
  auto e = create_error("memory_pressure", "{ maxmemory = \"8 parsecs\" }");
  EXPECT_NE(e.find("f.toml:1:"), std::string::npos) << e;
  EXPECT_NE(e.find("experiments[0].params.maxmemory"), std::string::npos) << e;
  EXPECT_NE(e.find("not a size"), std::string::npos) << e;
  e = create_error("memory_pressure", "{ maxmemory = \"1kb\" }");
  EXPECT_NE(e.find("out of range"), std::string::npos) << e;
  e = create_error("memory_pressure", "{ maxmemory = \"8mb\", policy = \"lru\" }");
  EXPECT_NE(e.find("params.policy"), std::string::npos) << e;
  e = create_error("memory_pressure", "{ maxmemory = \"8mb\", fill_ratio = 1.5 }");
  EXPECT_NE(e.find("params.fill_ratio"), std::string::npos) << e;
  e = create_error("memory_pressure", "{ maxmemroy = \"8mb\" }");
  EXPECT_NE(e.find("params.maxmemroy"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean \"maxmemory\""), std::string::npos) << e;
  e = create_error("memory_pressure", "{}");
  EXPECT_NE(e.find("needs maxmemory, policy or fill_ratio"), std::string::npos) << e;
}

TEST(ChaosParams, NodePauseAndKill) {
  EXPECT_EQ(create_error("node_pause", "{}"), "");
  EXPECT_EQ(create_error("node_pause", "{ mode = \"write\" }"), "");
  EXPECT_NE(create_error("node_pause", "{ mode = \"some\" }").find("params.mode"),
            std::string::npos);
  EXPECT_EQ(create_error("node_kill", "{}"), "");
  auto e = create_error("node_kill", "{ signal = 9 }");
  EXPECT_NE(e.find("params.signal"), std::string::npos) << e;
  EXPECT_NE(e.find("none are accepted"), std::string::npos) << e;
}

TEST(ChaosParams, Network) {
  EXPECT_EQ(create_error("network_latency", "{ link = \"redis\", latency = \"50ms\" }"), "");
  EXPECT_EQ(create_error("network_jitter", "{ link = \"redis\", jitter = \"5ms\" }"), "");
  EXPECT_EQ(create_error("network_bandwidth", "{ link = \"r\", rate_bytes_per_second = 1024 }"),
            "");
  EXPECT_EQ(create_error("network_partition", "{ link = \"r\", stream = \"upstream\" }"), "");
  EXPECT_EQ(create_error("network_reset", "{ link = \"r\", after = \"100ms\" }"), "");
  auto e = create_error("network_latency", "{ latency = \"50ms\" }");
  EXPECT_NE(e.find("params.link"), std::string::npos) << e;
  e = create_error("network_latency", "{ link = \"r\" }");
  EXPECT_NE(e.find("params.latency"), std::string::npos) << e;
  e = create_error("network_latency", "{ link = \"r\", latency = \"fast\" }");
  EXPECT_NE(e.find("f.toml:1:"), std::string::npos) << e;
  EXPECT_NE(e.find("params.latency"), std::string::npos) << e;
  e = create_error("network_partition", "{ link = \"r\", latency = \"5ms\" }");
  EXPECT_NE(e.find("params.latency"), std::string::npos) << e;  // partitions take no latency
  e = create_error("network_latency", "{ link = \"r\", latency = \"5ms\", stream = \"side\" }");
  EXPECT_NE(e.find("params.stream"), std::string::npos) << e;
  e = create_error("network_bandwidth", "{ link = \"r\", rate_bytes_per_second = 0 }");
  EXPECT_NE(e.find("params.rate_bytes_per_second"), std::string::npos) << e;
}

TEST(ChaosParams, ClientKill) {
  EXPECT_EQ(create_error("client_kill", "{ type = \"normal\" }"), "");
  EXPECT_EQ(create_error("client_kill", "{ name_pattern = \"app-*\" }"), "");
  auto e = create_error("client_kill", "{}");
  EXPECT_NE(e.find("needs type or name_pattern"), std::string::npos) << e;
  e = create_error("client_kill", "{ type = \"everyone\" }");
  EXPECT_NE(e.find("params.type"), std::string::npos) << e;
}

TEST(ChaosParams, Reshard) {
  EXPECT_EQ(create_error("reshard", "{}"), "");
  EXPECT_EQ(create_error("reshard", "{ slots = 16, move_back = false }"), "");
  EXPECT_EQ(create_error("reshard", "{ from = \"127.0.0.1:7000\", to = \"127.0.0.1:7001\" }"), "");
  auto e = create_error("reshard", "{ slots = 0 }");
  EXPECT_NE(e.find("params.slots"), std::string::npos) << e;
  e = create_error("reshard", "{ slots = 5000 }");
  EXPECT_NE(e.find("params.slots"), std::string::npos) << e;
  e = create_error("reshard", "{ from = \"node-a\" }");
  EXPECT_NE(e.find("params.from"), std::string::npos) << e;
  EXPECT_NE(e.find("host:port"), std::string::npos) << e;
  e = create_error("reshard", "{ from = \"127.0.0.1:7000\", to = \"127.0.0.1:7000\" }");
  EXPECT_NE(e.find("params.to"), std::string::npos) << e;
  e = create_error("reshard", "{ slot = 3 }");
  EXPECT_NE(e.find("params.slot"), std::string::npos) << e;
}

TEST(ChaosParams, FailoverAndFlushNamespace) {
  EXPECT_EQ(create_error("failover", "{}"), "");
  EXPECT_EQ(create_error("failover", "{ replica = \"127.0.0.1:7004\" }"), "");
  auto e = create_error("failover", "{ replica = \"7004\" }");
  EXPECT_NE(e.find("params.replica"), std::string::npos) << e;
  e = create_error("failover", "{ force = true }");
  EXPECT_NE(e.find("params.force"), std::string::npos) << e;

  EXPECT_EQ(create_error("flush_namespace", "{ pattern = \"session:*\" }"), "");
  EXPECT_EQ(create_error("flush_namespace", "{ pattern = \"*\", allow_all = true }"), "");
  EXPECT_EQ(
      create_error("flush_namespace", "{ pattern = \"s:*\", max_keys = 5, max_bytes = \"1mb\" }"),
      "");
  e = create_error("flush_namespace", "{}");
  EXPECT_NE(e.find("params.pattern"), std::string::npos) << e;
  EXPECT_NE(e.find("needs a pattern"), std::string::npos) << e;
  e = create_error("flush_namespace", "{ pattern = \"*\" }");
  EXPECT_NE(e.find("allow_all = true"), std::string::npos) << e;
  e = create_error("flush_namespace", "{ pattern = \"s:*\", max_keys = 0 }");
  EXPECT_NE(e.find("params.max_keys"), std::string::npos) << e;
  e = create_error("flush_namespace", "{ pattern = \"s:*\", max_bytes = \"2gb\" }");
  EXPECT_NE(e.find("params.max_bytes"), std::string::npos) << e;
}

TEST(ChaosParams, JsonParamsForTheHttpApi) {
  auto ok = create_fault_from_json("memory_pressure", {{"maxmemory", "8mb"}});
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok.value()->record()["params"]["maxmemory_bytes"], 8 << 20);
  auto bad = create_fault_from_json("memory_pressure", {{"maxmemory", "huge"}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::invalid_argument);
  EXPECT_NE(bad.error().message.find("params.maxmemory"), std::string::npos) << bad.error().message;
  auto unknown = create_fault_from_json("meteor_strike", nlohmann::json::object());
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("memory_pressure"), std::string::npos);
  auto nested = create_fault_from_json("client_kill", {{"type", {{"a", 1}}}});
  EXPECT_FALSE(nested);
}

TEST(ChaosParams, EveryFaultIsRebuiltFromItsRecord) {
  const std::vector<std::pair<std::string, nlohmann::json>> cases = {
      {"memory_pressure", {{"maxmemory", "8mb"}, {"policy", "allkeys-lru"}, {"fill_ratio", 0.5}}},
      {"node_pause", {{"mode", "write"}}},
      {"node_kill", nlohmann::json::object()},
      {"client_kill", {{"type", "normal"}, {"name_pattern", "app-*"}}},
      {"network_latency", {{"link", "r"}, {"latency", "50ms"}, {"jitter", "5ms"}}},
      {"network_jitter", {{"link", "r"}, {"jitter", "5ms"}}},
      {"network_bandwidth", {{"link", "r"}, {"rate_bytes_per_second", 4096}}},
      {"network_partition", {{"link", "r"}}},
      {"network_reset", {{"link", "r"}, {"after", "1s"}}},
      {"reshard", {{"slots", 3}, {"from", "127.0.0.1:7000"}, {"move_back", false}}},
      {"failover", {{"replica", "127.0.0.1:7004"}}},
      {"flush_namespace", {{"pattern", "session:*"}, {"max_keys", 100}}},
  };
  for (const auto& [type, params] : cases) {
    auto fault = create_fault_from_json(type, params);
    ASSERT_TRUE(fault) << type << ": " << fault.error().message;
    nlohmann::json record = fault.value()->record();
    EXPECT_EQ(record["type"], type);
    auto rebuilt = restore_fault(record);
    ASSERT_TRUE(rebuilt) << type << ": " << rebuilt.error().message;
    EXPECT_EQ(rebuilt.value()->type(), type);
    EXPECT_EQ(rebuilt.value()->record(), record) << type;
  }
}

TEST(ChaosParams, NetworkToxicsMatchTheParams) {
  auto fault = create_fault_from_json("network_jitter", {{"link", "r"}, {"jitter", "5ms"}});
  ASSERT_TRUE(fault);
  nlohmann::json record = fault.value()->record();
  record["state"]["toxics"] = {"chaos-f-1-down"};
  auto rebuilt = restore_fault(record);
  ASSERT_TRUE(rebuilt);
  auto* network = dynamic_cast<NetworkFault*>(rebuilt.value().get());
  ASSERT_NE(network, nullptr);
  auto toxics = network->toxics(std::chrono::seconds(10));
  ASSERT_EQ(toxics.size(), 1u);
  EXPECT_EQ(toxics[0].type, ToxicType::latency);
  EXPECT_EQ(toxics[0].params.latency, std::chrono::milliseconds(5));  // latency defaults to jitter
  EXPECT_EQ(toxics[0].params.jitter, std::chrono::milliseconds(5));
  EXPECT_EQ(toxics[0].direction, ToxicDirection::downstream);
  EXPECT_EQ(toxics[0].expires_in, std::chrono::seconds(10) + NetworkFault::kExpiryGrace);
}

TEST(ChaosParams, BrokenRecordsAreErrorsNotCrashes) {
  EXPECT_FALSE(restore_fault(nlohmann::json::object()));
  EXPECT_FALSE(restore_fault({{"type", "meteor_strike"}}));
  EXPECT_FALSE(restore_fault({{"type", "memory_pressure"}, {"params", 3}}));
  EXPECT_FALSE(
      restore_fault({{"type", "memory_pressure"},
                     {"params", {{"maxmemory_bytes", nullptr}, {"policy", ""}, {"fill_ratio", 0}}},
                     {"state",
                      {{"captured", true},
                       {"original_maxmemory", ""},
                       {"original_policy", ""},
                       {"ballast_prefix", ""},
                       {"ballast_keys", 0},
                       {"ballast_written", 0}}}}));
}

}  // namespace
}  // namespace chaosd
