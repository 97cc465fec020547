// Toxic specs from JSON: every type, defaults, and a clear error for each kind of bad input.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "chaos/proxy/toxic_spec.h"

namespace chaosd {
namespace {
using namespace std::chrono_literals;
using json = nlohmann::json;

Result<ToxicSpec> parse(const char* text) { return parse_toxic_spec(json::parse(text)); }

// The error message, or "ok" when it parsed.
std::string error_of(const char* text) {
  auto spec = parse(text);
  return spec ? "ok" : spec.error().message;
}

TEST(ToxicSpec, ParsesTheDocumentedLatencyExample) {
  auto spec = parse(
      R"({"type":"latency","name":"lag","stream":"downstream","latency_ms":20,"jitter_ms":0,
          "expires_in_ms":5000})");
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->type, ToxicType::latency);
  EXPECT_EQ(spec->name, "lag");
  EXPECT_EQ(spec->direction, ToxicDirection::downstream);
  EXPECT_EQ(spec->params.latency, 20ms);
  EXPECT_EQ(spec->params.jitter, 0ms);
  ASSERT_TRUE(spec->expires_in.has_value());
  EXPECT_EQ(*spec->expires_in, 5s);
}

TEST(ToxicSpec, DefaultsLikeToxiproxy) {
  auto spec = parse(R"({"type":"partition"})");
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->direction, ToxicDirection::downstream);
  EXPECT_EQ(spec->name, "partition_downstream");
  EXPECT_FALSE(spec->expires_in.has_value());
}

TEST(ToxicSpec, ParsesEveryType) {
  auto bandwidth =
      parse(R"({"type":"bandwidth","stream":"upstream","rate_bytes_per_second":1000})");
  ASSERT_TRUE(bandwidth) << bandwidth.error().message;
  EXPECT_EQ(bandwidth->params.rate_bytes_per_second, 1000u);
  EXPECT_EQ(bandwidth->direction, ToxicDirection::upstream);

  auto timeout = parse(R"({"type":"timeout","timeout_ms":1500})");
  ASSERT_TRUE(timeout) << timeout.error().message;
  EXPECT_EQ(timeout->params.timeout, 1500ms);
  auto hold = parse(R"({"type":"timeout"})");
  ASSERT_TRUE(hold);
  EXPECT_EQ(hold->params.timeout, 0ms) << "0 = hold forever";

  auto reset = parse(R"({"type":"reset_peer","timeout_ms":2.5})");
  ASSERT_TRUE(reset) << reset.error().message;
  EXPECT_EQ(reset->params.timeout, 2500us);

  auto slicer =
      parse(R"({"type":"slicer","average_size_bytes":64,"size_variation_bytes":16,"delay_us":10})");
  ASSERT_TRUE(slicer) << slicer.error().message;
  EXPECT_EQ(slicer->params.average_size_bytes, 64u);
  EXPECT_EQ(slicer->params.size_variation_bytes, 16u);
  EXPECT_EQ(slicer->params.slice_delay, 10us);
}

TEST(ToxicSpec, RejectsUnknownOrMissingType) {
  EXPECT_EQ(error_of(R"({"type":"lag","name":"x"})"),
            "toxic \"x\": type: \"lag\" is not a toxic type (use one of latency, bandwidth, "
            "timeout, reset_peer, partition, slicer)");
  EXPECT_EQ(error_of(R"({"name":"x","latency_ms":5})"),
            "toxic \"x\": type: missing (one of latency, bandwidth, timeout, reset_peer, "
            "partition, slicer)");
  EXPECT_NE(error_of(R"({"type":7})").find("7 is not a toxic type"), std::string::npos);
}

TEST(ToxicSpec, RejectsNegativeAndOutOfRangeNumbers) {
  EXPECT_EQ(error_of(R"({"type":"latency","name":"lag","latency_ms":-5})"),
            "toxic \"lag\": latency_ms: -5 is negative (use milliseconds >= 0)");
  EXPECT_NE(error_of(R"({"type":"latency","latency_ms":5,"jitter_ms":-1})").find("jitter_ms"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type":"latency","latency_ms":999999999})").find("more than a day"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type":"bandwidth","rate_bytes_per_second":0})").find("out of range"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type":"bandwidth","rate_bytes_per_second":-10})").find("negative"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type":"bandwidth","rate_bytes_per_second":1.5})")
                .find("not a whole number of bytes/s"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type":"slicer","average_size_bytes":10,"size_variation_bytes":10})")
                .find("must be smaller than average_size_bytes"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type":"partition","expires_in_ms":0})").find("expires_in_ms"),
            std::string::npos);
}

TEST(ToxicSpec, RejectsMissingParameters) {
  EXPECT_EQ(error_of(R"({"type":"latency","name":"lag"})"),
            "toxic \"lag\": latency_ms: missing (this toxic type needs it)");
  EXPECT_NE(error_of(R"({"type":"bandwidth"})").find("rate_bytes_per_second: missing"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type":"slicer"})").find("average_size_bytes: missing"),
            std::string::npos);
}

TEST(ToxicSpec, RejectsBadStream) {
  EXPECT_EQ(error_of(R"({"type":"partition","name":"p","stream":"sideways"})"),
            "toxic \"p\": stream: \"sideways\" is not a stream (use \"upstream\" for "
            "client->server or \"downstream\" for server->client)");
  EXPECT_NE(error_of(R"({"type":"partition","stream":1})").find("is not a stream"),
            std::string::npos);
}

TEST(ToxicSpec, RejectsUnknownKeysAndWrongJsonTypes) {
  EXPECT_EQ(error_of(R"({"type":"latency","name":"lag","latency_ms":5,"rate_bytes_per_second":9})"),
            "toxic \"lag\": rate_bytes_per_second: unknown key for a latency toxic (it takes "
            "latency_ms, jitter_ms, plus name, stream, expires_in_ms)");
  EXPECT_NE(error_of(R"({"type":"partition","toxicity":0.5})").find("takes no parameters"),
            std::string::npos);
  EXPECT_EQ(error_of(R"({"type":"latency","name":"lag","latency_ms":"20"})"),
            "toxic \"lag\": latency_ms: \"20\" is not a number");
  EXPECT_EQ(error_of(R"([1,2])"), "toxic: expected a JSON object, got array");
  EXPECT_EQ(error_of(R"({"type":"partition","name":42})"), "toxic: name: must be a string");
  EXPECT_NE(error_of(R"({"type":"partition","name":"has space"})").find("name: use 1 to 64"),
            std::string::npos);
}

TEST(ToxicSpec, ToJsonReadsBack) {
  for (
      const char* text :
      {R"({"type":"latency","name":"a","stream":"upstream","latency_ms":20,"jitter_ms":1.5,"expires_in_ms":100})",
       R"({"type":"bandwidth","name":"b","stream":"downstream","rate_bytes_per_second":5})",
       R"({"type":"timeout","name":"c","stream":"downstream","timeout_ms":0})",
       R"({"type":"reset_peer","name":"d","stream":"upstream","timeout_ms":10})",
       R"({"type":"partition","name":"e","stream":"upstream"})",
       R"({"type":"slicer","name":"f","stream":"downstream","average_size_bytes":8,"size_variation_bytes":2,"delay_us":3})"}) {
    auto spec = parse(text);
    ASSERT_TRUE(spec) << text << ": " << spec.error().message;
    EXPECT_EQ(to_json(spec.value()), json::parse(text)) << text;
  }
}

TEST(ToxicSpec, ValidatesSpecsBuiltInCode) {
  ToxicSpec spec;
  spec.type = ToxicType::slicer;
  EXPECT_FALSE(validate_toxic_spec(spec)) << "a slicer needs average_size_bytes";
  spec.params.average_size_bytes = 10;
  auto ok = validate_toxic_spec(spec);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->name, "slicer_downstream");
  spec.params.latency = -1ms;
  EXPECT_FALSE(validate_toxic_spec(spec));
}

}  // namespace
}  // namespace chaosd
