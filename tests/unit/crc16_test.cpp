// Key hashing must match the server exactly. Expected slots come from CLUSTER KEYSLOT on a real
// Redis 7.0 server.

#include "daemon/redis/crc16.h"

#include <gtest/gtest.h>

namespace chaosd {
namespace {

TEST(Crc16, MatchesTheXmodemCheckValue) {
  EXPECT_EQ(crc16_xmodem("123456789"), 0x31C3);  // the standard CRC catalogue check value
  EXPECT_EQ(crc16_xmodem(""), 0);
}

TEST(KeyHashSlot, MatchesClusterKeyslot) {
  EXPECT_EQ(key_hash_slot("foo"), 12182);
  EXPECT_EQ(key_hash_slot("bar"), 5061);
  EXPECT_EQ(key_hash_slot("hello"), 866);
  EXPECT_EQ(key_hash_slot("somekey"), 11058);
  EXPECT_EQ(key_hash_slot("chaosd:probe:1"), 12681);
  EXPECT_EQ(key_hash_slot(""), 0);
}

TEST(KeyHashSlot, HandlesBytesAboveAscii) {
  // Bytes >= 0x80 must index the table as unsigned, not as negative chars.
  std::string key = "\xff\x80k\xc3\xa9";
  EXPECT_LT(key_hash_slot(key), kClusterSlots);
  EXPECT_EQ(key_hash_slot(key), crc16_xmodem(key) % kClusterSlots);
}

TEST(KeyHashSlot, SameHashTagSameSlot) {
  EXPECT_EQ(key_hash_slot("{user1000}.following"), 3443);
  EXPECT_EQ(key_hash_slot("{user1000}.followers"), 3443);
  EXPECT_EQ(key_hash_slot("foo{bar}{zap}"), key_hash_slot("bar"));  // first tag only
  EXPECT_EQ(key_hash_slot("}{x}"), key_hash_slot("x"));  // a '}' before the '{' does not count
}

TEST(KeyHashSlot, EmptyOrUnclosedTagHashesTheWholeKey) {
  EXPECT_EQ(hash_tag("foo{}{bar}"), "foo{}{bar}");
  EXPECT_EQ(key_hash_slot("foo{}{bar}"), 8363);
  EXPECT_EQ(hash_tag("a{b"), "a{b");
  EXPECT_EQ(key_hash_slot("a{b"), 13340);
  EXPECT_EQ(key_hash_slot("{}"), 15257);
}

TEST(KeyHashSlot, TagIsUpToTheFirstClosingBrace) {
  EXPECT_EQ(hash_tag("foo{{bar}}zap"), "{bar");
  EXPECT_EQ(key_hash_slot("foo{{bar}}zap"), 4015);
  EXPECT_EQ(key_hash_slot("{bar"), 4015);
}

}  // namespace
}  // namespace chaosd
