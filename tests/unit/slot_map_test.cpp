// Slot map parsing from hand-built CLUSTER SHARDS / CLUSTER SLOTS replies, MOVED updates, and the
// classification of cluster errors. Replies are written as RESP2 wire text and read back through
// the client's own ReplyReader, so the trees have exactly the shape a server's reply would have.

#include "daemon/redis/slot_map.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "daemon/redis/cluster_client.h"
#include "daemon/redis/reply_reader.h"

namespace chaosd {
namespace {
using namespace std::chrono_literals;

namespace resp {
std::string str(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}
std::string num(int64_t v) { return ":" + std::to_string(v) + "\r\n"; }
std::string arr(const std::vector<std::string>& items) {
  std::string out = "*" + std::to_string(items.size()) + "\r\n";
  for (const auto& item : items) out += item;
  return out;
}
}  // namespace resp
using resp::arr;
using resp::num;
using resp::str;

Reply parse(const std::string& wire) {
  ReplyReader reader;
  std::optional<Reply> reply;
  if (reader.feed(wire.data(), wire.size())) reply = reader.next();
  if (!reply) throw std::runtime_error("bad RESP in test: " + wire);
  return std::move(*reply);
}

// A CLUSTER SHARDS node as Redis 7.0 sends it in RESP2.
std::string shards_node(const std::string& id, int port, const std::string& role,
                        const std::string& health = "online", const std::string& ip = "10.0.0.1",
                        const std::string& endpoint = "10.0.0.1") {
  return arr({str("id"), str(id), str("port"), num(port), str("ip"), str(ip), str("endpoint"),
              str(endpoint), str("role"), str(role), str("replication-offset"), num(4242),
              str("health"), str(health)});
}

std::string shard(const std::vector<std::string>& slot_bounds,
                  const std::vector<std::string>& nodes) {
  return arr({str("slots"), arr(slot_bounds), str("nodes"), arr(nodes)});
}

TEST(ParseClusterShards, MapsEverySlotToItsShard) {
  Reply reply = parse(arr({
      shard({num(0), num(100), num(200), num(5460)},
            {shards_node("a1", 7001, "master"), shards_node("a2", 7004, "replica")}),
      shard({num(5461), num(10922)},
            {shards_node("b2", 7005, "replica"), shards_node("b1", 7002, "master")}),
      shard({num(101), num(199), num(10923), num(16383)},
            {shards_node("c1", 7003, "master"), shards_node("c2", 7006, "replica", "loading")}),
  }));
  auto map = parse_cluster_shards(reply, "seed");
  ASSERT_TRUE(map) << map.error().describe();
  EXPECT_EQ(map->covered_slots(), 16384u);
  EXPECT_EQ(map->primary_for_slot(0)->port, 7001);
  EXPECT_EQ(map->primary_for_slot(150)->port, 7003);
  EXPECT_EQ(map->primary_for_slot(5461)->id, "b1");  // the primary, though listed second
  EXPECT_EQ(map->primary_for_slot(16383)->address(), "10.0.0.1:7003");
  ASSERT_EQ(map->shards().size(), 3u);
  EXPECT_EQ(map->slot_ranges(0), (std::vector<SlotRange>{{0, 100}, {200, 5460}}));
  ASSERT_EQ(map->shards()[2].replicas.size(), 1u);
  EXPECT_FALSE(map->shards()[2].replicas[0].healthy);
  EXPECT_FALSE(map->shards()[2].replicas[0].primary);
  auto nodes = map->nodes();
  ASSERT_EQ(nodes.size(), 6u);
  EXPECT_TRUE(nodes[0].primary && nodes[1].primary && nodes[2].primary);
  EXPECT_FALSE(nodes[3].primary);
}

TEST(ParseClusterShards, PicksAUsableAddress) {
  Reply reply = parse(arr({
      shard({num(0), num(8191)}, {shards_node("a", 7001, "master", "online", "10.0.0.7", "?")}),
      shard({num(8192), num(16383)}, {shards_node("b", 7002, "master", "online", "", "")}),
  }));
  auto map = parse_cluster_shards(reply, "seed.example");
  ASSERT_TRUE(map) << map.error().describe();
  EXPECT_EQ(map->primary_for_slot(0)->host, "10.0.0.7");  // unknown endpoint: fall back to ip
  EXPECT_EQ(map->primary_for_slot(9000)->host, "seed.example");  // nothing known: who we asked
}

TEST(ParseClusterShards, PrefersAHealthyPrimaryAndSkipsShardsWithoutOne) {
  Reply reply = parse(arr({
      shard({num(0), num(99)},
            {shards_node("old", 7001, "master", "failed"), shards_node("new", 7004, "master")}),
      shard({num(100), num(199)}, {shards_node("orphan", 7005, "replica")}),
      shard({}, {shards_node("empty", 7006, "master")}),
  }));
  auto map = parse_cluster_shards(reply, "seed");
  ASSERT_TRUE(map) << map.error().describe();
  EXPECT_EQ(map->primary_for_slot(0)->id, "new");
  EXPECT_EQ(map->primary_for_slot(150), nullptr);
  EXPECT_EQ(map->covered_slots(), 100u);
  EXPECT_EQ(map->nodes().size(), 3u);  // new, empty, and old (now listed as a replica)
}

TEST(ParseClusterShards, RejectsMalformedReplies) {
  EXPECT_EQ(parse_cluster_shards(Reply::make_string("nope"), "h").error().code,
            ErrorCode::protocol);
  EXPECT_FALSE(parse_cluster_shards(parse(arr({arr({str("slots"), arr({})})})), "h"));
  EXPECT_FALSE(parse_cluster_shards(
      parse(arr({shard({num(0), num(16384)}, {shards_node("a", 1, "master")})})), "h"));
  EXPECT_FALSE(parse_cluster_shards(
      parse(arr({shard({num(10), num(5)}, {shards_node("a", 1, "master")})})), "h"));
  EXPECT_FALSE(
      parse_cluster_shards(parse(arr({shard({num(0)}, {shards_node("a", 1, "master")})})), "h"));
}

std::string slots_node(const std::string& host, int port, const std::string& id) {
  // Redis 7 appends a (flattened) map of extra networking metadata: ignored.
  return arr({str(host), num(port), str(id), arr({str("hostname"), str("node.example")})});
}

TEST(ParseClusterSlots, GroupsRangesByPrimary) {
  Reply reply = parse(arr({
      arr({num(0), num(5460), slots_node("10.0.0.1", 7001, "a1"),
           slots_node("10.0.0.1", 7004, "a2")}),
      arr({num(5461), num(10922), slots_node("", 7002, "b1")}),
      arr({num(10923), num(16000), slots_node("10.0.0.1", 7001, "a1"),
           slots_node("10.0.0.1", 7004, "a2")}),
      arr({num(16001), num(16383), arr({str("10.0.0.3"), num(7003)})}),  // pre-3.2: no id
  }));
  auto map = parse_cluster_slots(reply, "seed.example");
  ASSERT_TRUE(map) << map.error().describe();
  ASSERT_EQ(map->shards().size(), 3u);
  EXPECT_EQ(map->covered_slots(), 16384u);
  EXPECT_EQ(map->slot_ranges(0), (std::vector<SlotRange>{{0, 5460}, {10923, 16000}}));
  EXPECT_EQ(map->shards()[0].replicas.size(), 1u);
  EXPECT_EQ(map->primary_for_slot(6000)->address(), "seed.example:7002");
  EXPECT_EQ(map->primary_for_slot(16383)->address(), "10.0.0.3:7003");
  EXPECT_FALSE(parse_cluster_slots(parse(arr({arr({num(0), num(5)})})), "h"));
}

TEST(SlotMap, MovedReassignsOneSlot) {
  Reply reply = parse(arr({
      shard({num(0), num(8191)},
            {shards_node("a", 7001, "master"), shards_node("a2", 7003, "replica")}),
      shard({num(8192), num(16383)}, {shards_node("b", 7002, "master")}),
  }));
  auto map = parse_cluster_shards(reply, "seed");
  ASSERT_TRUE(map);
  map->move_slot(5, "10.0.0.1", 7002);
  EXPECT_EQ(map->primary_for_slot(5)->id, "b");
  EXPECT_EQ(map->primary_for_slot(6)->id, "a");
  EXPECT_EQ(map->slot_ranges(0), (std::vector<SlotRange>{{0, 4}, {6, 8191}}));
  // A promoted replica: not a known primary, so it becomes a shard of its own until a refresh.
  map->move_slot(7, "10.0.0.1", 7003);
  EXPECT_EQ(map->primary_for_slot(7)->address(), "10.0.0.1:7003");
  EXPECT_EQ(map->covered_slots(), 16384u);
  auto nodes = map->nodes();
  EXPECT_EQ(nodes.size(), 3u);
  EXPECT_EQ(std::count_if(nodes.begin(), nodes.end(), [](auto& n) { return n.primary; }), 3);
}

TEST(ClassifyClusterError, ReadsRedirects) {
  auto moved = classify_cluster_error("MOVED 3999 127.0.0.1:6381");
  EXPECT_EQ(moved.kind, ClusterError::Kind::moved);
  EXPECT_EQ(moved.slot, 3999);
  EXPECT_EQ(moved.host, "127.0.0.1");
  EXPECT_EQ(moved.port, 6381);
  auto ask = classify_cluster_error("ASK 16383 ::1:7000");
  EXPECT_EQ(ask.kind, ClusterError::Kind::ask);
  EXPECT_EQ(ask.host, "::1");
  EXPECT_EQ(ask.port, 7000);
  auto same_host = classify_cluster_error("MOVED 1 :6380");
  EXPECT_EQ(same_host.kind, ClusterError::Kind::moved);
  EXPECT_EQ(same_host.host, "");
}

TEST(ClassifyClusterError, ReadsRetryableErrorsAndIgnoresTheRest) {
  using Kind = ClusterError::Kind;
  EXPECT_EQ(classify_cluster_error("TRYAGAIN Multiple keys request during rehashing of slot").kind,
            Kind::try_again);
  EXPECT_EQ(classify_cluster_error("CLUSTERDOWN The cluster is down").kind, Kind::cluster_down);
  EXPECT_EQ(classify_cluster_error("CLUSTERDOWN Hash slot not served").kind, Kind::cluster_down);
  for (const char* text : {"ERR unknown command", "MOVED", "MOVED abc 1.2.3.4:5", "MOVED 16384 h:1",
                           "MOVED 1 h:0", "MOVED 1 h:70000", "MOVED 1 host", "MOVEDX 1 h:1", ""}) {
    EXPECT_EQ(classify_cluster_error(text).kind, Kind::none) << text;
  }
}

TEST(ClusterRetryDelay, DoublesUpToTheCap) {
  ClusterOptions options;  // 10 ms .. 200 ms
  std::vector<Duration> delays;
  for (int tries = 1; tries <= 7; ++tries) delays.push_back(cluster_retry_delay(options, tries));
  EXPECT_EQ(delays, (std::vector<Duration>{10ms, 20ms, 40ms, 80ms, 160ms, 200ms, 200ms}));
}

}  // namespace
}  // namespace chaosd
