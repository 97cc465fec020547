#include "daemon/cli.h"

#include <gtest/gtest.h>

namespace chaosd {
namespace {

TEST(Cli, ParsesEveryOption) {
  auto parsed = parse_cli(
      {"--config", "a.toml", "--listen=127.0.0.1:1", "--log-level", "debug", "--check-config"});
  ASSERT_EQ(parsed.error, "");
  EXPECT_EQ(parsed.options.config_path, "a.toml");
  EXPECT_EQ(parsed.options.listen, "127.0.0.1:1");
  EXPECT_EQ(parsed.options.log_level, "debug");
  EXPECT_TRUE(parsed.options.check_config);
  EXPECT_FALSE(parsed.options.print_config);
}

TEST(Cli, RejectsWhatItDoesNotKnow) {
  EXPECT_NE(parse_cli({"--config", "a", "--frobnicate"}).error.find("--frobnicate"),
            std::string::npos);
  EXPECT_NE(parse_cli({"--config"}).error.find("needs a value"), std::string::npos);
  EXPECT_NE(parse_cli({"--config", "a", "--log-level", "loud"}).error.find("loud"),
            std::string::npos);
  EXPECT_NE(parse_cli({}).error.find("--config"), std::string::npos);
}

TEST(Cli, HelpAndVersionNeedNoConfig) {
  EXPECT_EQ(parse_cli({"--help"}).error, "");
  EXPECT_EQ(parse_cli({"--version"}).error, "");
}

}  // namespace
}  // namespace chaosd
