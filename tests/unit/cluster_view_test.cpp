// CLUSTER NODES parsing for the chaos interlocks: roles, shards, failing nodes, slot ranges and
// slots in flight (MIGRATING/IMPORTING), and clear errors for text that is not CLUSTER NODES.

#include "chaos/cluster_view.h"

#include <gtest/gtest.h>

namespace chaosd {
namespace {

constexpr const char* kNodes =
    "aaa 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460 [5461-<-bbb]\n"
    "bbb 127.0.0.1:7001@17001,host-b master - 0 1 2 connected 5461-10922 [10922->-ccc]\n"
    "ccc 127.0.0.1:7002@17002 master,fail - 0 1 3 disconnected 10923-16383\n"
    "ddd 127.0.0.1:7003@17003 slave aaa 0 1 1 connected\n"
    "eee 127.0.0.1:7004@17004 slave,fail? bbb 0 1 2 connected\n";

TEST(ClusterView, ParsesRolesShardsSlotsAndSlotsInFlight) {
  auto parsed = parse_cluster_nodes(kNodes);
  ASSERT_TRUE(parsed) << parsed.error().message;
  const ClusterView& view = parsed.value();
  ASSERT_EQ(view.nodes.size(), 5u);
  const ViewNode* a = view.by_address("127.0.0.1:7000");
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->myself);
  EXPECT_TRUE(a->primary);
  EXPECT_EQ(a->slots.size(), 5461u);
  ASSERT_EQ(a->importing.size(), 1u);
  EXPECT_EQ(a->importing[0].first, 5461);
  EXPECT_EQ(a->importing[0].second, "bbb");
  EXPECT_EQ(view.by_id("bbb")->address, "127.0.0.1:7001");  // hostname cut off
  EXPECT_TRUE(view.by_id("ccc")->failing);
  EXPECT_TRUE(view.by_id("eee")->failing);
  EXPECT_FALSE(view.by_id("ddd")->failing);
  EXPECT_EQ(view.shard_of(*view.by_id("ddd")), "aaa");
  EXPECT_EQ(view.shard_of(*view.by_id("bbb")), "bbb");
  EXPECT_EQ(view.replicas_of("aaa").size(), 1u);
  EXPECT_EQ(view.serving_primaries().size(), 3u);
  EXPECT_EQ(view.owner_of(0)->id, "aaa");
  EXPECT_EQ(view.owner_of(16383)->id, "ccc");
  auto in_flight = view.slots_in_flight();
  ASSERT_EQ(in_flight.size(), 2u);
  EXPECT_EQ(in_flight[0], "slot 5461 IMPORTING on 127.0.0.1:7000 from bbb");
  EXPECT_EQ(in_flight[1], "slot 10922 MIGRATING on 127.0.0.1:7001 to ccc");
}

TEST(ClusterView, BadTextIsAnErrorNamingTheLine) {
  auto short_line = parse_cluster_nodes("aaa 127.0.0.1:7000@17000 master\n");
  ASSERT_FALSE(short_line);
  EXPECT_NE(short_line.error().message.find("line 1"), std::string::npos);
  auto bad_slot =
      parse_cluster_nodes("aaa 127.0.0.1:7000@17000 master - 0 0 1 connected 0-99999\n");
  ASSERT_FALSE(bad_slot);
  EXPECT_NE(bad_slot.error().message.find("bad slot field \"0-99999\""), std::string::npos);
  EXPECT_FALSE(parse_cluster_nodes(""));
  EXPECT_TRUE(split_address("127.0.0.1:7000"));
  EXPECT_FALSE(split_address("127.0.0.1"));
  EXPECT_FALSE(split_address("h:0"));
  EXPECT_FALSE(split_address("h:70000"));
  auto v6 = split_address("[::1]:7000");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->first, "::1");
  EXPECT_EQ(v6->second, 7000);
}

}  // namespace
}  // namespace chaosd
