#include "daemon/sla/sla_engine.h"

#include <gtest/gtest.h>

namespace chaosd {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// Latency-style rule: a measurement under 0.1 is a good event.
SlaRule latency_rule(std::string name = "ping_latency", double objective = 0.99,
                     std::vector<Duration> windows = {minutes(5), hours(1)}) {
  SlaRule rule;
  rule.name = std::move(name);
  rule.probe = "ping";
  rule.target = "primary";
  rule.measurement = "latency_seconds";
  rule.threshold = {Comparison::less, 0.1};
  rule.objective = objective;
  rule.windows = std::move(windows);
  return rule;
}

// 1 - 0.99 is not exactly 0.01 in binary, so budget arithmetic is exact only to ~1e-15.
constexpr double kTolerance = 1e-12;
constexpr double kGood = 0.01;
constexpr double kBad = 0.5;

class SlaEngineTest : public ::testing::Test {
 protected:
  void record_n(int n, double value) {
    for (int i = 0; i < n; ++i) engine_.record("ping", "latency_seconds", value);
  }
  SlaStatus only_status() const {
    const std::vector<SlaStatus> statuses = engine_.snapshot();
    EXPECT_EQ(statuses.size(), 1u);
    return statuses.at(0);
  }

  ManualClock clock_;
  SlaEngine engine_{clock_};
};

TEST_F(SlaEngineTest, NoEventsIsNeutral) {
  engine_.set_rules(
      {latency_rule("ping_latency", 0.999, {minutes(5), hours(1), hours(24), hours(24 * 30)})});
  const SlaStatus status = only_status();
  EXPECT_TRUE(status.met);
  EXPECT_FALSE(status.has_value);
  EXPECT_EQ(status.good_total, 0u);
  EXPECT_EQ(status.bad_total, 0u);
  EXPECT_EQ(status.error_budget_remaining_ratio, 1.0);
  EXPECT_TRUE(status.history.empty());
  ASSERT_EQ(status.windows.size(), 4u);
  const char* labels[] = {"5m", "1h", "1d", "30d"};
  for (size_t i = 0; i < status.windows.size(); ++i) {
    EXPECT_EQ(status.windows[i].label, labels[i]);
    EXPECT_EQ(status.windows[i].counts.total(), 0u);
    EXPECT_EQ(status.windows[i].compliance_ratio, 1.0);
    EXPECT_EQ(status.windows[i].burn_rate, 0.0);
  }
  EXPECT_EQ(status.windows[3].window, hours(24 * 30));
}

TEST_F(SlaEngineTest, BurnRateAndBudgetFromKnownCounts) {
  engine_.set_rules({latency_rule("ping_latency", 0.99)});
  record_n(980, kGood);
  record_n(20, kBad);
  const SlaStatus status = only_status();
  for (const SlaWindowStatus& window : status.windows) {
    EXPECT_EQ(window.counts.good, 980u);
    EXPECT_EQ(window.counts.bad, 20u);
    EXPECT_DOUBLE_EQ(window.compliance_ratio, 0.98);
    EXPECT_NEAR(window.burn_rate, 2.0, kTolerance);
  }
  EXPECT_NEAR(status.error_budget_remaining_ratio, -1.0, kTolerance);
  EXPECT_FALSE(status.met);
  EXPECT_EQ(status.good_total, 980u);
  EXPECT_EQ(status.bad_total, 20u);
}

TEST_F(SlaEngineTest, HalfTheBudgetSpent) {
  engine_.set_rules({latency_rule("ping_latency", 0.99)});
  record_n(995, kGood);
  record_n(5, kBad);
  const SlaStatus status = only_status();
  EXPECT_NEAR(status.windows[0].burn_rate, 0.5, kTolerance);
  EXPECT_NEAR(status.error_budget_remaining_ratio, 0.5, kTolerance);
  EXPECT_TRUE(status.met);
}

TEST_F(SlaEngineTest, EventsAgeOutOfShortWindowButStayInLongOne) {
  engine_.set_rules({latency_rule("ping_latency", 0.9)});
  record_n(1, kBad);
  record_n(9, kGood);
  clock_.advance(minutes(2));
  record_n(10, kGood);

  SlaStatus status = only_status();
  EXPECT_EQ(status.windows[0].counts.total(), 20u);
  EXPECT_DOUBLE_EQ(status.windows[0].compliance_ratio, 0.95);
  EXPECT_DOUBLE_EQ(status.windows[1].compliance_ratio, 0.95);

  clock_.advance(minutes(4));  // the first ten events are 6 minutes old now
  status = only_status();
  EXPECT_EQ(status.windows[0].counts.good, 10u);
  EXPECT_EQ(status.windows[0].counts.bad, 0u);
  EXPECT_EQ(status.windows[0].compliance_ratio, 1.0);
  EXPECT_EQ(status.windows[0].burn_rate, 0.0);
  EXPECT_EQ(status.windows[1].counts.good, 19u);
  EXPECT_EQ(status.windows[1].counts.bad, 1u);
  EXPECT_DOUBLE_EQ(status.windows[1].burn_rate, 0.5);
  // The budget is judged over the longest window, which still holds the bad event.
  EXPECT_DOUBLE_EQ(status.error_budget_remaining_ratio, 0.5);

  clock_.advance(hours(1));
  status = only_status();
  EXPECT_EQ(status.windows[1].counts.total(), 0u);
  EXPECT_EQ(status.error_budget_remaining_ratio, 1.0);
  EXPECT_EQ(status.good_total, 19u);  // lifetime totals never age
  EXPECT_EQ(status.bad_total, 1u);
}

TEST_F(SlaEngineTest, BreachThenRecoveryByMoreGoodEvents) {
  engine_.set_rules({latency_rule("ping_latency", 0.9, {minutes(5)})});
  record_n(9, kGood);
  std::vector<SlaVerdict> verdicts = engine_.record("ping", "latency_seconds", kBad);
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_FALSE(verdicts[0].good);
  EXPECT_FALSE(verdicts[0].transition.has_value()) << "9/10 still meets 0.9";

  clock_.advance(seconds(1));
  verdicts = engine_.record("ping", "latency_seconds", 0.7);
  ASSERT_EQ(verdicts.size(), 1u);
  ASSERT_TRUE(verdicts[0].transition.has_value());
  EXPECT_EQ(*verdicts[0].transition, SlaTransition::breach);
  EXPECT_EQ(verdicts[0].rule, &engine_.rules()[0]);

  SlaStatus status = only_status();
  EXPECT_FALSE(status.met);
  ASSERT_EQ(status.history.size(), 1u);
  EXPECT_EQ(status.history[0].transition, SlaTransition::breach);
  EXPECT_EQ(status.history[0].value, 0.7);
  EXPECT_DOUBLE_EQ(status.history[0].compliance_ratio, 9.0 / 11.0);
  EXPECT_EQ(status.history[0].at, clock_.wall_now());

  record_n(8, kGood);  // 17/19 is still short of 0.9
  EXPECT_FALSE(only_status().met);
  verdicts = engine_.record("ping", "latency_seconds", 0.02);  // 18/20 = 0.9
  ASSERT_TRUE(verdicts[0].transition.has_value());
  EXPECT_EQ(*verdicts[0].transition, SlaTransition::recovery);

  status = only_status();
  EXPECT_TRUE(status.met);
  ASSERT_EQ(status.history.size(), 2u);
  EXPECT_EQ(status.history[1].transition, SlaTransition::recovery);
  EXPECT_EQ(status.history[1].value, 0.02);
  EXPECT_DOUBLE_EQ(status.history[1].compliance_ratio, 0.9);
}

TEST_F(SlaEngineTest, RecoveryOnceBadEventsLeaveTheShortestWindow) {
  engine_.set_rules({latency_rule("ping_latency", 0.99)});
  ASSERT_TRUE(engine_.record("ping", "latency_seconds", kBad)[0].transition.has_value());
  clock_.advance(minutes(5));
  // The bad event left the 5m window (it is still in the 1h one, which does not decide `met`).
  const std::vector<SlaVerdict> verdicts = engine_.record("ping", "latency_seconds", kGood);
  ASSERT_TRUE(verdicts[0].transition.has_value());
  EXPECT_EQ(*verdicts[0].transition, SlaTransition::recovery);
  const SlaStatus status = only_status();
  EXPECT_TRUE(status.met);
  EXPECT_DOUBLE_EQ(status.windows[1].compliance_ratio, 0.5);
}

TEST_F(SlaEngineTest, HistoryKeepsOnlyTheNewestTransitions) {
  engine_.set_rules({latency_rule("ping_latency", 0.5, {minutes(5)})});
  constexpr int kCycles = 60;  // 120 transitions
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    // Each event is alone in the window, so each one flips `met`.
    EXPECT_TRUE(engine_.record("ping", "latency_seconds", 1.0 + cycle)[0].transition.has_value());
    clock_.advance(minutes(5));
    EXPECT_TRUE(engine_.record("ping", "latency_seconds", 0.001 * cycle)[0].transition.has_value());
    clock_.advance(minutes(5));
  }
  const SlaStatus status = only_status();
  ASSERT_EQ(status.history.size(), SlaEngine::kHistoryLimit);
  // Transitions 0..19 were dropped; the oldest kept is the breach of cycle 10.
  EXPECT_EQ(status.history.front().transition, SlaTransition::breach);
  EXPECT_EQ(status.history.front().value, 11.0);
  EXPECT_EQ(status.history.back().transition, SlaTransition::recovery);
  EXPECT_DOUBLE_EQ(status.history.back().value, 0.059);
  EXPECT_LT(status.history.front().at, status.history.back().at);
}

TEST_F(SlaEngineTest, TracksLastValueAndTotals) {
  engine_.set_rules({latency_rule()});
  clock_.advance(seconds(3));
  engine_.record("ping", "latency_seconds", kGood);
  engine_.record("ping", "latency_seconds", kBad);
  const SlaStatus status = only_status();
  EXPECT_TRUE(status.has_value);
  EXPECT_EQ(status.last_value, kBad);
  EXPECT_FALSE(status.last_good);
  EXPECT_EQ(status.last_event_at, clock_.wall_now());
  EXPECT_EQ(status.good_total, 1u);
  EXPECT_EQ(status.bad_total, 1u);
  EXPECT_EQ(status.rule.target, "primary");
}

TEST_F(SlaEngineTest, RecordJudgesOnlyMatchingRules) {
  SlaRule strict = latency_rule("strict", 0.999);
  strict.threshold = {Comparison::less, 0.005};
  SlaRule other = latency_rule("errors");
  other.measurement = "error_ratio";
  engine_.set_rules({latency_rule("loose"), strict, other});

  const std::vector<SlaVerdict> verdicts = engine_.record("ping", "latency_seconds", 0.01);
  ASSERT_EQ(verdicts.size(), 2u);
  EXPECT_EQ(verdicts[0].rule->name, "loose");
  EXPECT_TRUE(verdicts[0].good);
  EXPECT_EQ(verdicts[1].rule->name, "strict");
  EXPECT_FALSE(verdicts[1].good);

  EXPECT_TRUE(engine_.record("ping", "unknown", 0.01).empty());
  EXPECT_TRUE(engine_.record("other_probe", "latency_seconds", 0.01).empty());
  const std::vector<SlaStatus> statuses = engine_.snapshot();
  EXPECT_EQ(statuses[2].good_total + statuses[2].bad_total, 0u);
}

TEST_F(SlaEngineTest, ThresholdOperatorsDecideGoodAndBad) {
  struct Case {
    Comparison op;
    double measured;
    bool good;
  };
  const Case cases[] = {
      {Comparison::less, 0.99, true},         {Comparison::less, 1.0, false},
      {Comparison::less_equal, 1.0, true},    {Comparison::less_equal, 1.01, false},
      {Comparison::greater, 1.01, true},      {Comparison::greater, 1.0, false},
      {Comparison::greater_equal, 1.0, true}, {Comparison::greater_equal, 0.99, false},
      {Comparison::equal, 1.0, true},         {Comparison::equal, 0.0, false},
      {Comparison::not_equal, 0.0, true},     {Comparison::not_equal, 1.0, false},
  };
  for (const Case& c : cases) {
    SlaRule rule = latency_rule();
    rule.threshold = {c.op, 1.0};
    engine_.set_rules({rule});
    const std::vector<SlaVerdict> verdicts = engine_.record("ping", "latency_seconds", c.measured);
    ASSERT_EQ(verdicts.size(), 1u);
    EXPECT_EQ(verdicts[0].good, c.good)
        << rule.threshold.to_string() << " with measured " << c.measured;
  }
}

TEST_F(SlaEngineTest, SetRulesKeepsStateOfUnchangedSeries) {
  engine_.set_rules({latency_rule("a", 0.99), latency_rule("b", 0.99)});
  record_n(3, kGood);
  record_n(1, kBad);  // breaches both

  SlaRule a = latency_rule("a", 0.5);  // objective and threshold may change without a reset
  a.threshold = {Comparison::less, 1.0};
  a.description = "relaxed";
  SlaRule b_new_windows = latency_rule("b", 0.99, {minutes(1), hours(1)});
  SlaRule c = latency_rule("c");
  engine_.set_rules({c, b_new_windows, a});  // reordered, too

  const std::vector<SlaStatus> statuses = engine_.snapshot();
  ASSERT_EQ(statuses.size(), 3u);
  const SlaStatus& kept = statuses[2];
  EXPECT_EQ(kept.rule.name, "a");
  EXPECT_EQ(kept.rule.objective, 0.5);
  EXPECT_EQ(kept.rule.description, "relaxed");
  EXPECT_EQ(kept.good_total, 3u);
  EXPECT_EQ(kept.bad_total, 1u);
  EXPECT_EQ(kept.windows[0].counts.total(), 4u);
  EXPECT_FALSE(kept.met);
  ASSERT_EQ(kept.history.size(), 1u);
  EXPECT_TRUE(kept.has_value);

  for (const SlaStatus* fresh : {&statuses[0], &statuses[1]}) {
    EXPECT_TRUE(fresh->met);
    EXPECT_EQ(fresh->good_total + fresh->bad_total, 0u);
    EXPECT_EQ(fresh->windows[0].counts.total(), 0u);
    EXPECT_TRUE(fresh->history.empty());
    EXPECT_FALSE(fresh->has_value);
  }
  EXPECT_EQ(statuses[1].windows[0].label, "1m");

  // The kept state is judged by the new rule: 0.5 is now good and 4/5 meets 0.5.
  const std::vector<SlaVerdict> verdicts = engine_.record("ping", "latency_seconds", kBad);
  ASSERT_EQ(verdicts.size(), 3u);
  EXPECT_EQ(verdicts[2].rule->name, "a");
  EXPECT_TRUE(verdicts[2].good);
  ASSERT_TRUE(verdicts[2].transition.has_value());
  EXPECT_EQ(*verdicts[2].transition, SlaTransition::recovery);
}

TEST_F(SlaEngineTest, SetRulesDropsRemovedAndRenamedRules) {
  engine_.set_rules({latency_rule("a")});
  record_n(2, kBad);
  engine_.set_rules({});
  EXPECT_TRUE(engine_.snapshot().empty());
  EXPECT_TRUE(engine_.record("ping", "latency_seconds", kBad).empty());

  engine_.set_rules({latency_rule("a")});  // re-added after removal: a new series
  EXPECT_EQ(only_status().bad_total, 0u);
  record_n(1, kBad);
  engine_.set_rules({latency_rule("renamed")});
  EXPECT_EQ(only_status().bad_total, 0u);
  EXPECT_TRUE(only_status().met);
}

TEST_F(SlaEngineTest, DuplicateRulesDoNotShareState) {
  engine_.set_rules({latency_rule("a")});
  record_n(1, kBad);
  engine_.set_rules({latency_rule("a"), latency_rule("a")});
  const std::vector<SlaStatus> statuses = engine_.snapshot();
  ASSERT_EQ(statuses.size(), 2u);
  EXPECT_EQ(statuses[0].bad_total, 1u);
  EXPECT_EQ(statuses[1].bad_total, 0u);
}

TEST_F(SlaEngineTest, TimeGoingBackwardsKeepsCounting) {
  engine_.set_rules({latency_rule("ping_latency", 0.5)});
  clock_.advance(minutes(1));
  record_n(1, kGood);
  clock_.advance(-minutes(2));
  record_n(1, kBad);
  SlaStatus status = only_status();
  EXPECT_EQ(status.windows[0].counts.good, 1u);
  EXPECT_EQ(status.windows[0].counts.bad, 1u);
  EXPECT_TRUE(status.met);
  clock_.advance(minutes(2) + minutes(5));  // 5 minutes past the newest event's bucket
  status = only_status();
  EXPECT_EQ(status.windows[0].counts.total(), 0u);
  EXPECT_EQ(status.windows[1].counts.total(), 2u);
}

TEST_F(SlaEngineTest, MetFollowsTheShortestWindowEvenIfListedLast) {
  engine_.set_rules({latency_rule("ping_latency", 0.99, {hours(1), minutes(5)})});
  record_n(1, kBad);
  clock_.advance(minutes(5));
  record_n(1, kGood);
  const SlaStatus status = only_status();
  EXPECT_TRUE(status.met);
  EXPECT_EQ(status.windows[1].label, "5m");
  // The budget is spent over the longest window, wherever it is listed.
  EXPECT_DOUBLE_EQ(status.error_budget_remaining_ratio, 1 - 0.5 / (1 - 0.99));
}

TEST(WindowLabel, UsesTheLargestExactUnit) {
  EXPECT_EQ(window_label(minutes(5)), "5m");
  EXPECT_EQ(window_label(hours(1)), "1h");
  EXPECT_EQ(window_label(hours(24)), "1d");
  EXPECT_EQ(window_label(hours(24 * 30)), "30d");
  EXPECT_EQ(window_label(seconds(90)), "90s");
  EXPECT_EQ(window_label(hours(2) + minutes(30)), "150m");
  EXPECT_EQ(window_label(hours(36)), "36h");
  EXPECT_EQ(window_label(milliseconds(1500)), "1500ms");
  EXPECT_EQ(window_label(Duration::zero()), "0s");
}

TEST_F(SlaEngineTest, ASubjectGlobJudgesOnlyMatchingSubjects) {
  SlaRule small = latency_rule("small_payloads");
  small.subjects = "*/1KiB";
  engine_.set_rules({small});
  EXPECT_TRUE(engine_.record("ping", "latency_seconds", kBad, "json/1MiB").empty());
  EXPECT_TRUE(engine_.record("ping", "latency_seconds", kBad).empty());  // no subject
  auto verdicts = engine_.record("ping", "latency_seconds", kGood, "msgpack/1KiB");
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_TRUE(verdicts[0].good);
  const SlaStatus status = only_status();
  EXPECT_EQ(status.good_total, 1u);
  EXPECT_EQ(status.bad_total, 0u);
}

TEST_F(SlaEngineTest, WithoutSubjectsEverySubjectCounts) {
  engine_.set_rules({latency_rule()});
  engine_.record("ping", "latency_seconds", kBad, "region-b");
  engine_.record("ping", "latency_seconds", kGood, "region-c");
  engine_.record("ping", "latency_seconds", kGood);
  const SlaStatus status = only_status();
  EXPECT_EQ(status.good_total, 2u);
  EXPECT_EQ(status.bad_total, 1u);
}

// Fault windows and clean windows compared: events judged while a fault was active on the
// target are counted apart, and the breach they cause names the fault.
TEST_F(SlaEngineTest, EventsDuringAFaultAreCountedApartAndNameTheFault) {
  engine_.set_rules({latency_rule()});
  record_n(10, kGood);  // clean
  for (int i = 0; i < 3; ++i) engine_.record("ping", "latency_seconds", kBad, "", "f-7");
  engine_.record("ping", "latency_seconds", kGood, "", "f-7");
  const SlaStatus status = only_status();
  EXPECT_EQ(status.good_total, 11u);
  EXPECT_EQ(status.bad_total, 3u);
  EXPECT_EQ(status.fault_good_total, 1u);
  EXPECT_EQ(status.fault_bad_total, 3u);
  ASSERT_EQ(status.history.size(), 1u);
  EXPECT_EQ(status.history[0].transition, SlaTransition::breach);
  EXPECT_EQ(status.history[0].faults, "f-7");
  // Recovery after the fault is gone: a clean transition.
  clock_.advance(minutes(6));
  record_n(5, kGood);
  const SlaStatus later = only_status();
  ASSERT_EQ(later.history.size(), 2u);
  EXPECT_EQ(later.history[1].transition, SlaTransition::recovery);
  EXPECT_EQ(later.history[1].faults, "");
  EXPECT_EQ(later.fault_good_total, 1u);
  EXPECT_EQ(later.good_total, 16u);
}

}  // namespace
}  // namespace chaosd
