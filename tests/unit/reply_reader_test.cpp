// ReplyReader: RESP2 wire text in, Reply trees out, through hiredis' parser and our object
// functions (built in place, so nesting, element order and types are what can go wrong).

#include "daemon/redis/reply_reader.h"

#include <gtest/gtest.h>

namespace chaosd {
namespace {

std::vector<Reply> read_all(ReplyReader& reader, const std::string& wire) {
  std::vector<Reply> replies;
  EXPECT_TRUE(reader.feed(wire.data(), wire.size())) << reader.error();
  while (auto reply = reader.next()) replies.push_back(std::move(*reply));
  return replies;
}

TEST(ReplyReader, ReadsEveryType) {
  ReplyReader reader;
  auto replies = read_all(reader, "+OK\r\n-ERR no\r\n:-42\r\n$5\r\nhello\r\n$-1\r\n*-1\r\n*0\r\n");
  ASSERT_EQ(replies.size(), 7u);
  EXPECT_TRUE(replies[0].is_ok_status());
  EXPECT_TRUE(replies[1].is_error());
  EXPECT_EQ(replies[1].str(), "ERR no");
  EXPECT_EQ(replies[2].integer(), -42);
  EXPECT_EQ(replies[3].type(), Reply::Type::string);
  EXPECT_EQ(replies[3].str(), "hello");
  EXPECT_TRUE(replies[4].is_nil());
  EXPECT_TRUE(replies[5].is_nil());
  EXPECT_TRUE(replies[6].is_array());
  EXPECT_TRUE(replies[6].elements().empty());
  EXPECT_TRUE(reader.error().empty());
}

TEST(ReplyReader, BuildsNestedArraysInOrder) {
  ReplyReader reader;
  // [1, ["a", nil, [2, "b"]], "c"]: what CLUSTER SHARDS and pub/sub messages look like.
  auto replies =
      read_all(reader, "*3\r\n:1\r\n*3\r\n$1\r\na\r\n$-1\r\n*2\r\n:2\r\n$1\r\nb\r\n$1\r\nc\r\n");
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].debug_string(),
            "[(integer) 1, [\"a\", (nil), [(integer) 2, \"b\"]], \"c\"]");
}

TEST(ReplyReader, WaitsForTheRestOfAReplySplitAcrossReads) {
  ReplyReader reader;
  std::string wire = "*2\r\n$3\r\nfoo\r\n+bar\r\n:7\r\n";
  std::vector<Reply> replies;
  for (char c : wire) {  // one byte per read, the worst a socket can do
    ASSERT_TRUE(reader.feed(&c, 1));
    while (auto reply = reader.next()) replies.push_back(std::move(*reply));
  }
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0].debug_string(), "[\"foo\", bar]");
  EXPECT_EQ(replies[1].integer(), 7);
}

TEST(ReplyReader, ProtocolErrorIsReportedAndSticks) {
  ReplyReader reader;
  auto replies = read_all(reader, ":1\r\n?what\r\n");
  ASSERT_EQ(replies.size(), 1u);  // the good reply before the bad bytes still counts
  EXPECT_NE(reader.error().find("Protocol error"), std::string::npos) << reader.error();
  EXPECT_FALSE(reader.feed(":2\r\n", 4));
  EXPECT_FALSE(reader.next());
}

TEST(ReplyReader, ProtocolErrorInsideAnArrayFreesWhatWasBuilt) {
  ReplyReader reader;  // an ASan build checks that the half-built array is freed exactly once
  auto replies = read_all(reader, "*3\r\n$1\r\na\r\n*2\r\n:1\r\n!bad\r\n");
  EXPECT_TRUE(replies.empty());
  EXPECT_FALSE(reader.error().empty());
}

// Found by reply_reader_fuzzer: an array header is a claim, not an allocation. This one asked for
// 555 million elements (44 GB of Reply) before any arrived, and the bad_alloc crossed hiredis.
TEST(ReplyReader, AHugeArrayHeaderAllocatesOnlyWhatArrives) {
  ReplyReader reader;
  auto replies = read_all(reader, "*555555552\r\n:1\r\n");
  EXPECT_TRUE(replies.empty());  // 555555551 elements still to come
  EXPECT_TRUE(reader.error().empty()) << reader.error();
  auto complete = read_all(reader, "");
  EXPECT_TRUE(complete.empty());
}

}  // namespace
}  // namespace chaosd
