// The collision probe's self-describing values and truncated-digest buckets: pure logic.

#include "probes/collision_value.h"

#include <gtest/gtest.h>

#include <set>

#include "probes/collision_hashed.h"

namespace chaosd {
namespace {

TEST(CollisionValue, AnEncodedValueParsesBackWithAValidChecksum) {
  std::string value = encode_owned_value("t1", "t1:k3", 7, 42, 32);
  auto parsed = parse_owned_value(value);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->owner, "t1");
  EXPECT_EQ(parsed->logical, "t1:k3");
  EXPECT_EQ(parsed->seq, 7);
  EXPECT_TRUE(parsed->checksum_ok);
  EXPECT_EQ(value, encode_owned_value("t1", "t1:k3", 7, 42, 32));  // deterministic
  EXPECT_NE(value, encode_owned_value("t1", "t1:k3", 7, 43, 32));
  EXPECT_EQ(value_damage(&value, "t1", "t1:k3", value), std::nullopt);
}

TEST(CollisionValue, EveryKindOfDamageIsNamed) {
  const std::string value = encode_owned_value("t1", "t1:k3", 2, 1, 16);
  std::string flipped = value;
  const size_t payload_byte = value.size() - 20;  // before "|<16 hex digits>"
  flipped[payload_byte] = flipped[payload_byte] == 'x' ? 'y' : 'x';
  EXPECT_EQ(value_damage(nullptr, "t1", "t1:k3", value), "the key is gone");
  EXPECT_EQ(value_damage(&flipped, "t1", "t1:k3", value), "checksum mismatch");
  const std::string garbage = "hello";
  EXPECT_EQ(value_damage(&garbage, "t1", "t1:k3", value), "not a value of this probe");
  const std::string foreign = encode_owned_value("t2", "t1:k3", 1, 1, 16);
  EXPECT_EQ(value_damage(&foreign, "t1", "t1:k3", value), "owned by t2, not t1");
  const std::string other = encode_owned_value("t1", "t1:k4", 2, 1, 16);
  EXPECT_EQ(value_damage(&other, "t1", "t1:k3", value), "holds t1:k4, not t1:k3");
  const std::string older = encode_owned_value("t1", "t1:k3", 1, 1, 16);
  EXPECT_NE(value_damage(&older, "t1", "t1:k3", value)->find("older"), std::string::npos);
}

TEST(CollisionBucket, TruncatesToTheBitsAndSpreadsKeys) {
  std::set<std::string> buckets;
  for (int i = 0; i < 1000; ++i) {
    std::string b = collision_bucket("key" + std::to_string(i), 1, 8);
    EXPECT_EQ(b.size(), 2u);
    buckets.insert(b);
  }
  EXPECT_GT(buckets.size(), 240u);  // 256 buckets, 1000 keys: nearly all used
  EXPECT_EQ(collision_bucket("a", 1, 12).size(), 3u);
  EXPECT_NE(collision_bucket("a", 1, 32), collision_bucket("a", 2, 32));  // salted by run
  EXPECT_NEAR(expected_collisions(256, 4096), 7.8, 0.05);
}

}  // namespace
}  // namespace chaosd
