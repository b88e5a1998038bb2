// The run's fault list: the target's record kept to the run (window, functions, buckets) and joined
// with the trainer's calls by request id.

#include "stratus/trainer/fault_report.hpp"

#include <gtest/gtest.h>

using namespace stratus::trainer;
using nlohmann::json;

namespace {

json entry(const char* time, const char* kind, const char* target, const char* id, int match = 1) {
  return {{"time", time},     {"kind", kind}, {"target", target},
          {"request_id", id}, {"rule", 0},    {"match", match}};
}

CallRecord call(CallFate fate, const char* id, int attempt = 1, double ms = 12) {
  CallRecord c;
  c.fate = fate;
  c.request_id = id;
  c.function = "worker";
  c.task = "task";
  c.attempt = attempt;
  c.latency_ms = ms;
  return c;
}

FaultScope scope() {
  FaultScope s;
  s.from = "2026-12-01T10:00:00.000Z";
  s.to = "2026-12-01T10:05:00.000Z";
  s.functions = {"worker"};
  s.buckets = {"runs"};
  return s;
}

std::string handled(const nlohmann::ordered_json& report, const std::string& id) {
  for (const auto& f : report["list"])
    if (f["request_id"] == id) return f["handled"].get<std::string>();
  return "(not listed)";
}

}  // namespace

TEST(FaultReport, KeepsTheRunsFaultsAndSaysHowEachWasHandled) {
  json crash = entry("2026-12-01T10:01:00.000Z", "crash", "worker", "c1");
  json crash_note = crash;
  crash_note["detail"] = "SIGKILL to environment e1, 20.0 ms into the invocation";
  json late_kill = entry("2026-12-01T10:01:40.000Z", "crash", "worker", "c3", 3);
  late_kill["detail"] = "SIGKILL to environment e2, 0.5 ms into the invocation";
  json record = {
      {"recent",
       json::array({
           entry("2026-12-01T09:59:59.999Z", "throttle", "worker", "early"),  // before the run
           entry("2026-12-01T10:00:01.000Z", "throttle", "worker", "t1"),
           entry("2026-12-01T10:00:02.000Z", "throttle", "other", "t2"),  // another function
           crash, crash_note,
           entry("2026-12-01T10:01:30.000Z", "crash", "worker", "c2", 2),  // ended before the kill
           entry("2026-12-01T10:01:40.000Z", "crash", "worker", "c3", 3),  // killed as it answered
           late_kill,
           entry("2026-12-01T10:02:00.000Z", "s3_slow_down", "runs/runs/r1/model-1.bin", "s1"),
           entry("2026-12-01T10:02:00.500Z", "s3_slow_down", "elsewhere/x",
                 "s2"),  // another bucket
           entry("2026-12-01T10:03:00.000Z", "straggler", "worker", "g1"),
           entry("2026-12-01T10:03:01.000Z", "straggler", "worker", "g2"),  // backed up: never seen
           entry("2026-12-01T10:05:00.001Z", "throttle", "worker", "late"),  // after the run
       })}};
  TrainerActions actions;
  actions.calls = {call(CallFate::throttled, "t1"),        call(CallFate::answered, "t1b", 2),
                   call(CallFate::function_error, "c1"),   call(CallFate::answered, "c2"),
                   call(CallFate::answered, "g1", 1, 640), call(CallFate::backup_launched, "", 2),
                   call(CallFate::answered, "c3")};
  const auto report = fault_report(record, "", scope(), actions);
  ASSERT_EQ(report["list"].size(), 7u) << report.dump(2);
  EXPECT_EQ(report["injected"], 7);
  EXPECT_EQ(handled(report, "t1"), "retried after back-off by the trainer's fan-out");
  EXPECT_EQ(handled(report, "c1"), "retried by the trainer's fan-out");
  EXPECT_EQ(handled(report, "c2"), "the invocation ended before the kill");
  EXPECT_EQ(handled(report, "c3"), "answered anyway (the kill came as the invocation ended)");
  EXPECT_EQ(handled(report, "s1"), "retried with back-off by the S3 client");
  EXPECT_EQ(handled(report, "g1"), "waited for");
  EXPECT_EQ(handled(report, "g2"),
            "backed up: a second call answered first, this one was not waited for");
  EXPECT_EQ(handled(report, "early"), "(not listed)");
  EXPECT_EQ(handled(report, "t2"), "(not listed)");
  EXPECT_EQ(handled(report, "s2"), "(not listed)");
  for (const auto& f : report["list"]) {
    if (f["request_id"] == "g1") {
      EXPECT_EQ(f["answered_ms"], 640);
    }
    if (f["request_id"] == "c1" || f["request_id"] == "c3") {
      EXPECT_EQ(f["detail"], (f["request_id"] == "c1" ? crash_note : late_kill)["detail"]);
    } else {
      EXPECT_FALSE(f.contains("detail"));
    }
  }
  EXPECT_EQ(report["by_kind"]["crash"]["count"], 3);
  EXPECT_EQ(report["by_kind"]["straggler"]["handled"].size(), 2u);
  EXPECT_EQ(report["trainer"]["calls"], 6);
  EXPECT_EQ(report["trainer"]["retried"], 1);
  EXPECT_EQ(report["trainer"]["throttled"], 1);
  EXPECT_EQ(report["trainer"]["function_errors"], 1);
  EXPECT_EQ(report["trainer"]["backups"], 1);
  const auto lines = fault_report_lines(report);
  ASSERT_EQ(lines.size(), 1u + 7u);  // the total, then one line per (kind, handling)
  EXPECT_NE(lines[0].find("7 injected during the run"), std::string::npos) << lines[0];
}

TEST(FaultReport, EventRunsAreHandledByLambdaAndTheTrainersRevivals) {
  json record = {
      {"recent", json::array({
                     entry("2026-12-01T10:00:01.000Z", "drop_event", "worker", "d1"),
                     entry("2026-12-01T10:00:02.000Z", "duplicate_event", "worker", "u1"),
                     entry("2026-12-01T10:00:03.000Z", "throttle", "worker", "t1"),
                 })}};
  TrainerActions actions;
  actions.events = true;
  actions.revived = 4;
  const auto report = fault_report(record, "", scope(), actions);
  EXPECT_EQ(handled(report, "d1"), "re-sent by the trainer's stall detection (--revive-after)");
  EXPECT_EQ(handled(report, "u1"),
            "ran twice; results keyed by (run, round, worker): the second run changed nothing");
  EXPECT_EQ(handled(report, "t1"), "retried after back-off by the caller's Event invoke");
  EXPECT_EQ(report["trainer"]["revived"], 4);
}

TEST(FaultReport, WithoutARecordItSaysWhyAndKeepsWhatTheTrainerSaw) {
  TrainerActions actions;
  actions.calls = {call(CallFate::timed_out, ""), call(CallFate::answered, "a", 2)};
  const auto report =
      fault_report(std::nullopt, "AWS keeps no record of injected faults", scope(), actions);
  EXPECT_TRUE(report["record"].is_null());
  EXPECT_EQ(report["record_note"], "AWS keeps no record of injected faults");
  EXPECT_EQ(report["injected"], 0);
  EXPECT_TRUE(report["list"].empty());
  EXPECT_EQ(report["trainer"]["timed_out"], 1);
  EXPECT_EQ(report["trainer"]["retried"], 1);
  const auto lines = fault_report_lines(report);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("AWS keeps no record"), std::string::npos);
}

TEST(FaultReport, AtTheEndOfARunTheScopeClosesAndTheTargetSaysWhyItHasNoRecord) {
  Target local = make_target(TargetOptions{});
  FaultScope s = scope();
  s.to.clear();
  TrainerActions actions;
  actions.calls = {call(CallFate::timed_out, "")};
  const auto report = run_fault_report(local, s, actions);
  EXPECT_FALSE(s.to.empty());
  EXPECT_GE(s.to, s.from);  // same fixed-width UTC format: text order is time order
  std::string why;
  EXPECT_FALSE(fetch_fault_record(local, why).has_value());
  EXPECT_EQ(report, fault_report(std::nullopt, why, s, actions));
  EXPECT_EQ(report["trainer"]["timed_out"], 1);
}
