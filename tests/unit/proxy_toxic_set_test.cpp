// The toxics of one link: unique names, in-place updates with fresh ids, and expiry by time.

#include <gtest/gtest.h>

#include "chaos/proxy/toxic_set.h"

namespace chaosd {
namespace {
using namespace std::chrono_literals;

const SteadyTime kStart = SteadyTime{} + 1000h;

ToxicSpec latency(std::string name, Duration latency) {
  ToxicSpec spec;
  spec.type = ToxicType::latency;
  spec.name = std::move(name);
  spec.params.latency = latency;
  return spec;
}

TEST(ToxicSet, NamesAreUniqueAndOrderIsKept) {
  ToxicSet set;
  ASSERT_TRUE(set.add(latency("a", 1ms), kStart));
  ASSERT_TRUE(set.add(latency("b", 2ms), kStart));
  auto dup = set.add(latency("a", 3ms), kStart);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().message, "toxic \"a\" already exists on this link (remove or update it)");
  ASSERT_EQ(set.all().size(), 2u);
  EXPECT_EQ(set.all()[0].spec.name, "a");
  EXPECT_EQ(set.all()[1].spec.name, "b");
  EXPECT_NE(set.all()[0].id, set.all()[1].id);
}

TEST(ToxicSet, InvalidSpecIsRejected) {
  ToxicSet set;
  EXPECT_FALSE(set.add(latency("neg", -1ms), kStart));
  EXPECT_TRUE(set.empty());
}

TEST(ToxicSet, UpdateReplacesInPlaceWithANewId) {
  ToxicSet set;
  ASSERT_TRUE(set.add(latency("a", 1ms), kStart));
  ASSERT_TRUE(set.add(latency("b", 2ms), kStart));
  const uint64_t old_id = set.find("a")->id;
  auto previous = set.update(latency("a", 9ms), kStart);
  ASSERT_TRUE(previous);
  EXPECT_EQ(previous->spec.params.latency, 1ms);
  EXPECT_EQ(set.all()[0].spec.params.latency, 9ms);
  EXPECT_NE(set.all()[0].id, old_id);
  EXPECT_EQ(set.find_id(old_id), nullptr);
  EXPECT_FALSE(set.update(latency("zzz", 1ms), kStart));
}

TEST(ToxicSet, RemoveAndClear) {
  ToxicSet set;
  ASSERT_TRUE(set.add(latency("a", 1ms), kStart));
  ASSERT_TRUE(set.add(latency("b", 1ms), kStart));
  EXPECT_FALSE(set.remove("nope").has_value());
  EXPECT_EQ(set.remove("a")->spec.name, "a");
  EXPECT_EQ(set.find("a"), nullptr);
  EXPECT_EQ(set.clear().size(), 1u);
  EXPECT_TRUE(set.empty());
}

TEST(ToxicSet, ExpiresByTime) {
  ToxicSet set;
  auto brief = latency("brief", 1ms);
  brief.expires_in = 100ms;
  auto longer = latency("longer", 1ms);
  longer.expires_in = 1s;
  ASSERT_TRUE(set.add(brief, kStart));
  ASSERT_TRUE(set.add(longer, kStart));
  ASSERT_TRUE(set.add(latency("forever", 1ms), kStart));
  EXPECT_EQ(set.next_expiry(), kStart + 100ms);
  EXPECT_TRUE(set.remove_expired(kStart + 99ms).empty());
  auto gone = set.remove_expired(kStart + 100ms);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].spec.name, "brief");
  EXPECT_EQ(set.next_expiry(), kStart + 1s);
  EXPECT_EQ(set.remove_expired(kStart + 1h).size(), 1u);
  EXPECT_FALSE(set.next_expiry().has_value());
  ASSERT_EQ(set.all().size(), 1u);
  EXPECT_EQ(set.all()[0].spec.name, "forever");
}

}  // namespace
}  // namespace chaosd
