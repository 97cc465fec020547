// The fault proxy accepts only loopback endpoints.

#include <gtest/gtest.h>

#include "chaos/proxy/loopback_endpoint.h"

namespace chaosd {
namespace {

std::string parsed(const char* text) {
  auto endpoint = parse_loopback_endpoint(text);
  return endpoint ? to_string(endpoint.value()) : "error: " + endpoint.error().message;
}

TEST(LoopbackEndpoint, AcceptsLoopbackForms) {
  EXPECT_EQ(parsed("127.0.0.1:6379"), "127.0.0.1:6379");
  EXPECT_EQ(parsed("127.3.2.1:0"), "127.3.2.1:0");
  EXPECT_EQ(parsed("[::1]:6380"), "[::1]:6380");
  EXPECT_EQ(parsed("localhost:7000"), "127.0.0.1:7000");
  EXPECT_EQ(parsed("[::ffff:127.0.0.1]:5"), "[::ffff:127.0.0.1]:5");
}

TEST(LoopbackEndpoint, RejectsEverythingElse) {
  EXPECT_EQ(parsed("10.0.0.1:6379"),
            "error: \"10.0.0.1:6379\": not a loopback address (only 127.0.0.0/8 or ::1) (use "
            "e.g. \"127.0.0.1:6380\" or \"[::1]:6380\")");
  for (const char* text : {"0.0.0.0:1", "[::]:1", "[::ffff:10.0.0.1]:1", "8.8.8.8:53"}) {
    EXPECT_NE(parsed(text).find("not a loopback address"), std::string::npos) << text;
  }
  EXPECT_NE(parsed("127.0.0.1").find("no port"), std::string::npos);
  EXPECT_NE(parsed("127.0.0.1:99999").find("port is not a number"), std::string::npos);
  EXPECT_NE(parsed("127.0.0.1:").find("port is not a number"), std::string::npos);
  EXPECT_NE(parsed("127.0.0.1:12a").find("port is not a number"), std::string::npos);
  EXPECT_NE(parsed("::1:5").find("needs brackets"), std::string::npos);
  EXPECT_NE(parsed("redis.internal:6379").find("is not an IP address"), std::string::npos);
}

TEST(LoopbackEndpoint, RequireLoopbackNamesTheRole) {
  boost::asio::ip::tcp::endpoint any(boost::asio::ip::address_v4::any(), 1);
  auto checked = require_loopback(any, "listen");
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().message,
            "listen address 0.0.0.0:1 is not loopback (the fault proxy only uses 127.0.0.0/8 or "
            "::1)");
}

}  // namespace
}  // namespace chaosd
