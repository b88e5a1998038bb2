// The fault schedule: decisions depend only on (seed, rule, matching requests so far), schedules
// hit exactly the positions they name, and malformed plans are refused naming the field.

#include "stratus/emulator/faults/fault_plan.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace stratus::emulator {
namespace {

using nlohmann::json;

FaultPlan plan_of(const char* text) {
  return parse_fault_plan(json::parse(text));
}

std::vector<std::uint64_t> positions(FaultSchedule& schedule, FaultKind kind,
                                     const std::string& target, int n) {
  std::vector<std::uint64_t> hit;
  for (int i = 1; i <= n; ++i) {
    if (schedule.decide(kind, target)) hit.push_back(static_cast<std::uint64_t>(i));
  }
  return hit;
}

TEST(FaultSchedule, SameSeedSameRequestsSameFaults) {
  const char* text =
      R"({"seed": 7, "rules": [{"kind": "crash", "function": "worker", "probability": 0.3}]})";
  FaultSchedule a(plan_of(text));
  FaultSchedule b(plan_of(text));
  auto hits_a = positions(a, FaultKind::Crash, "worker", 200);
  auto hits_b = positions(b, FaultKind::Crash, "worker", 200);
  EXPECT_EQ(hits_a, hits_b);
  // About 30% of 200 (a loose bound: the draw is uniform, not a test of its quality).
  EXPECT_GT(hits_a.size(), 35u);
  EXPECT_LT(hits_a.size(), 85u);
}

TEST(FaultSchedule, DifferentSeedsDiffer) {
  FaultSchedule a(plan_of(R"({"seed": 1, "rules": [{"kind": "throttle", "probability": 0.5}]})"));
  FaultSchedule b(plan_of(R"({"seed": 2, "rules": [{"kind": "throttle", "probability": 0.5}]})"));
  EXPECT_NE(positions(a, FaultKind::Throttle, "f", 64), positions(b, FaultKind::Throttle, "f", 64));
}

TEST(FaultSchedule, OtherTrafficDoesNotShiftARulesPositions) {
  const char* text =
      R"({"seed": 3, "rules": [{"kind": "drop_event", "function": "worker", "probability": 0.4}]})";
  FaultSchedule quiet(plan_of(text));
  FaultSchedule busy(plan_of(text));
  std::vector<std::uint64_t> q, b;
  for (int i = 1; i <= 100; ++i) {
    if (quiet.decide(FaultKind::DropEvent, "worker")) q.push_back(static_cast<std::uint64_t>(i));
    busy.decide(FaultKind::DropEvent, "other");  // not matched: no effect
    busy.decide(FaultKind::Crash, "worker");     // another kind: no effect
    if (busy.decide(FaultKind::DropEvent, "worker")) b.push_back(static_cast<std::uint64_t>(i));
  }
  EXPECT_EQ(q, b);
}

TEST(FaultSchedule, ExactScheduleHitsTheNamedInvocations) {
  FaultSchedule s(
      plan_of(R"({"rules": [{"kind": "crash", "function": "worker", "schedule": [5, 3]}]})"));
  EXPECT_EQ(positions(s, FaultKind::Crash, "worker", 10), (std::vector<std::uint64_t>{3, 5}));
}

TEST(FaultSchedule, MaxCountCapsInjections) {
  FaultSchedule s(plan_of(
      R"({"rules": [{"kind": "throttle", "function": "*", "probability": 1, "max_count": 2}]})"));
  EXPECT_EQ(positions(s, FaultKind::Throttle, "any", 5), (std::vector<std::uint64_t>{1, 2}));
}

TEST(FaultSchedule, S3RulesMatchBucketAndPrefix) {
  FaultSchedule s(plan_of(
      R"({"rules": [{"kind": "s3_slow_down", "bucket": "data", "key_prefix": "runs/", "schedule": [1, 2]}]})"));
  EXPECT_FALSE(s.decide(FaultKind::S3SlowDown, "other", "runs/x"));
  EXPECT_FALSE(s.decide(FaultKind::S3SlowDown, "data", "shards/x"));
  EXPECT_TRUE(s.decide(FaultKind::S3SlowDown, "data", "runs/a"));
  EXPECT_TRUE(s.decide(FaultKind::S3SlowDown, "data", "runs/b"));
  EXPECT_FALSE(s.decide(FaultKind::S3SlowDown, "data", "runs/c"));
}

TEST(FaultSchedule, CrashPointDrawIsSeededAndInRange) {
  const char* text = R"({"seed": 11, "rules": [{"kind": "crash", "probability": 1,
                         "crash_after_min_ms": 10, "crash_after_max_ms": 20}]})";
  FaultSchedule a(plan_of(text));
  FaultSchedule b(plan_of(text));
  for (int i = 0; i < 20; ++i) {
    auto da = a.decide(FaultKind::Crash, "f");
    auto db = b.decide(FaultKind::Crash, "f");
    ASSERT_TRUE(da && db);
    EXPECT_EQ(da->uniform, db->uniform);
    EXPECT_GE(da->uniform, 0.0);
    EXPECT_LT(da->uniform, 1.0);
    EXPECT_EQ(da->spec->crash_after_min_ms, 10);
  }
}

TEST(FaultSchedule, RoundTripsThroughJson) {
  const char* text = R"({"seed": 9, "rules": [
      {"kind": "straggler", "function": "w", "factor": 4, "schedule": [2]},
      {"kind": "s3_latency", "bucket": "b", "key_prefix": "p/", "latency_ms": 30, "probability": 0.25},
      {"kind": "crash", "function": "w", "probability": 0.1, "max_count": 3}]})";
  FaultPlan plan = plan_of(text);
  FaultPlan again = parse_fault_plan(fault_plan_json(plan));
  EXPECT_EQ(fault_plan_json(plan), fault_plan_json(again));
  EXPECT_EQ(again.rules[0].factor, 4);
  EXPECT_EQ(again.rules[1].key_prefix, "p/");
}

void expect_refused(const char* text, const std::string& needle) {
  try {
    parse_fault_plan(json::parse(text));
    ADD_FAILURE() << "accepted: " << text;
  } catch (const FaultPlanError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << e.what() << " (wanted " << needle << ")";
  }
}

TEST(FaultPlanValidation, RefusesMalformedPlansNamingTheField) {
  expect_refused(R"([])", "must be a JSON object");
  expect_refused(R"({"seed": 1})", "rules: is required");
  expect_refused(R"({"rules": {}})", "rules: must be an array");
  expect_refused(R"({"seed": -1, "rules": []})", "seed: must be a non-negative integer");
  expect_refused(R"({"rules": [], "sed": 1})", "faults.sed: unknown field");
  expect_refused(R"({"rules": [{"probability": 0.5}]})", "rules[0].kind: is required");
  expect_refused(R"({"rules": [{"kind": "explode", "probability": 0.5}]})",
                 "rules[0].kind: must be one of");
  expect_refused(R"({"rules": [{"kind": "crash"}]})",
                 "needs exactly one of 'probability' and 'schedule'");
  expect_refused(R"({"rules": [{"kind": "crash", "probability": 0.5, "schedule": [1]}]})",
                 "exactly one");
  expect_refused(R"({"rules": [{"kind": "crash", "probability": 1.5}]})",
                 "rules[0].probability: must be between");
  expect_refused(R"({"rules": [{"kind": "crash", "schedule": [1, 0]}]})",
                 "rules[0].schedule[1]: must be a positive");
  expect_refused(R"({"rules": [{"kind": "crash", "schedule": []}]})",
                 "rules[0].schedule: must be a non-empty");
  expect_refused(R"({"rules": [{"kind": "straggler", "probability": 1}]})",
                 "rules[0].factor: is required");
  expect_refused(R"({"rules": [{"kind": "straggler", "probability": 1, "factor": 1}]})",
                 "greater than 1");
  expect_refused(R"({"rules": [{"kind": "invoke_latency", "probability": 1}]})",
                 "latency_ms: is required");
  expect_refused(R"({"rules": [{"kind": "s3_latency", "probability": 1, "latency_ms": -3}]})",
                 "latency_ms: must be between");
  expect_refused(R"({"rules": [{"kind": "s3_slow_down", "function": "f", "probability": 1}]})",
                 "rules[0].function: is not a field of a s3_slow_down rule");
  expect_refused(R"({"rules": [{"kind": "crash", "bucket": "b", "probability": 1}]})",
                 "rules[0].bucket: is not a field");
  expect_refused(R"({"rules": [{"kind": "crash", "probability": 1, "factor": 2}]})",
                 "rules[0].factor: is not a field");
  expect_refused(R"({"rules": [{"kind": "crash", "function": "", "probability": 1}]})",
                 "rules[0].function: must be");
  expect_refused(
      R"({"rules": [{"kind": "crash", "probability": 1, "crash_after_min_ms": 50, "crash_after_max_ms": 10}]})",
      "must not exceed");
  expect_refused(R"({"rules": [{"kind": "crash", "probability": 1, "max_count": 0}]})",
                 "max_count: must be a positive");
}

}  // namespace
}  // namespace stratus::emulator
