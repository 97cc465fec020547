// The HTTP API's body parsers (daemon/http/request_body.h): what they accept and the 400 message
// they give for everything else. fuzz/http_body_fuzzer.cpp runs the same functions on random input.

#include "daemon/http/request_body.h"

#include <gtest/gtest.h>

#include <chrono>

namespace chaosd {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string fault_error(const std::string& body_text) {
  auto body = parse_json_object(body_text, false);
  if (!body) return body.error().message;
  auto request = parse_fault_request(body.value());
  EXPECT_FALSE(request.ok()) << body_text;
  if (request) return "";
  EXPECT_EQ(request.error().code, ErrorCode::invalid_argument);
  return request.error().message;
}

TEST(RequestBody, JsonObjectOnly) {
  EXPECT_TRUE(parse_json_object("{}", false).ok());
  EXPECT_EQ(parse_json_object("", true).value(), json::object());
  for (const char* bad : {"", "[]", "42", "\"x\"", "null", "{", "{\"a\":}", "\xff\xfe"}) {
    auto parsed = parse_json_object(bad, false);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.error().code, ErrorCode::invalid_argument);
    EXPECT_EQ(parsed.error().message, "the body must be a JSON object");
  }
}

TEST(RequestBody, HaltNeedsANonEmptyReason) {
  EXPECT_EQ(parse_halt_request(json{{"reason", "incident 42"}}).value(), "incident 42");
  for (const json& bad : {json::object(), json{{"reason", ""}}, json{{"reason", 7}},
                          json{{"reason", nullptr}}, json::array()}) {
    auto reason = parse_halt_request(bad);
    ASSERT_FALSE(reason.ok()) << bad.dump();
    EXPECT_NE(reason.error().message.find("give a reason"), std::string::npos);
  }
}

TEST(RequestBody, FaultRequestReadsEveryField) {
  auto request = parse_fault_request(
      json::parse(R"({"fault":"memory_pressure","target":"main","duration":"1m30s","node":"n1",)"
                  R"("params":{"maxmemory":"8mb"}})"));
  ASSERT_TRUE(request.ok()) << request.error().message;
  EXPECT_EQ(request->fault, "memory_pressure");
  EXPECT_EQ(request->target, "main");
  EXPECT_EQ(request->node, "n1");
  EXPECT_EQ(request->duration, 90s);
  EXPECT_EQ(request->params, json({{"maxmemory", "8mb"}}));
  auto minimal =
      parse_fault_request(json::parse(R"({"fault":"node_pause","target":"t","duration":"5s"})"));
  ASSERT_TRUE(minimal.ok());
  EXPECT_EQ(minimal->params, json::object());
  EXPECT_EQ(minimal->node, "");
}

TEST(RequestBody, FaultRequestRejectsWithAClearMessage) {
  EXPECT_NE(fault_error(R"({"target":"t","duration":"5s"})").find(R"(needs "fault", "target")"),
            std::string::npos);
  EXPECT_NE(fault_error(R"({"fault":1,"target":"t","duration":"5s"})").find("as strings"),
            std::string::npos);
  EXPECT_EQ(fault_error(R"({"fault":"node_pause","target":"t","duration":"5s","x":1})"),
            R"(unknown field "x"; use fault, target, duration, params, node)");
  EXPECT_EQ(fault_error(R"({"fault":"node_pause","target":"t","duration":"5s","params":[1]})"),
            R"("params" must be a JSON object)");
  EXPECT_EQ(fault_error(R"({"fault":"node_pause","target":"t","duration":"5s","params":null})"),
            R"("params" must be a JSON object)");
  EXPECT_NE(fault_error(R"({"fault":"melt","target":"t","duration":"5s"})")
                .find(R"(unknown fault "melt"; known faults: client_kill)"),
            std::string::npos);
  EXPECT_EQ(fault_error(R"({"fault":"node_pause","target":"t","duration":"5x"})"),
            R"("5x" is not a duration (use e.g. "30s"))");
  EXPECT_EQ(fault_error("[1,2]"), "the body must be a JSON object");
}

}  // namespace
}  // namespace chaosd
