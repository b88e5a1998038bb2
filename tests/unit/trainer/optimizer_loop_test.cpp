#include "stratus/trainer/optimizer_loop.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

using namespace stratus::trainer;

namespace {

// A recorded trace as a function of memory: time = CPU work at the memory's vCPU share plus a
// fixed S3 part (what the emulator's time model gives Case A), three iterations each.
std::vector<double> trace(int memory_mb) {
  const double t = 0.4 * 1769.0 / memory_mb + 0.3;
  return {t * 1.5, t, t};
}

}  // namespace

TEST(OptimizerLoop, CostTrajectoryReplaysTheStepRuleAndAgrees) {
  OptimizerLoopOptions options;
  options.objective = Objective::cost;
  options.start[0] = 512;
  options.start[1] = 1536;
  std::map<int, int> memory;  // slot -> what apply() set
  std::vector<std::pair<int, int>> applied;
  auto result = run_optimizer_loop(
      options, [](int, int setting) { return trace(setting); },
      [&](int slot, int setting) {
        memory[slot] = setting;
        applied.emplace_back(slot, setting);
      });
  ASSERT_TRUE(result.converged);
  // Cost = memory x (0.4 x 1769 / memory + 0.3) grows with memory: the smallest wins, and the
  // loser walks down to it, each step replaying optimizer_step on the two measured settings.
  std::optional<double> previous;
  int settings[2] = {512, 1536};
  for (const auto& step : result.steps) {
    EXPECT_EQ(step.slot[0].setting, settings[0]);
    EXPECT_EQ(step.slot[1].setting, settings[1]);
    const auto expected =
        optimizer_step(Objective::cost, Knob::memory, settings[0], trace(settings[0]), settings[1],
                       trace(settings[1]), previous);
    EXPECT_EQ(step.rule.new_setting, expected.new_setting);
    EXPECT_EQ(step.rule.change, expected.change);
    settings[step.changed_slot] = expected.new_setting;
    previous = expected.slope;
  }
  EXPECT_EQ(result.steps.front().rule.best_setting, 512);
  EXPECT_EQ(result.best_setting, 512);
  EXPECT_EQ(memory[0], 512);
  EXPECT_EQ(memory[1], 512);  // both functions end at the winner
  EXPECT_EQ(applied.front(), std::make_pair(0, 512));
  EXPECT_LE(result.steps.size(), 10u);
}

TEST(OptimizerLoop, PerfPerCostClimbsToTheInteriorOptimum) {
  // 1/(memory x time^2) with time = c/memory + s peaks where c/memory = s.
  auto times = [](int memory_mb) {
    const double t = 300.0 / memory_mb + 0.3;  // optimum at 1000 MB
    return std::vector<double>{t, t, t};
  };
  OptimizerLoopOptions options;
  options.objective = Objective::perf_per_cost;
  options.start[0] = 512;
  options.start[1] = 1536;
  options.max_steps = 30;
  auto result = run_optimizer_loop(
      options, [&](int, int setting) { return times(setting); }, [](int, int) {});
  // The loser always moves towards the winner, never away: the fixed comparison and direction.
  ASSERT_FALSE(result.steps.empty());
  for (const auto& step : result.steps) {
    if (step.changed_slot < 0) continue;
    const int loser = step.rule.other_setting, best = step.rule.best_setting;
    const int towards = (best > loser) - (best < loser);
    const int moved = (step.rule.new_setting > loser) - (step.rule.new_setting < loser);
    EXPECT_EQ(moved, towards) << "step " << step.step;
  }
  // The best setting found is nearer 1000 MB than either start.
  EXPECT_LT(std::abs(result.best_setting - 1000), 488);
}

TEST(OptimizerLoop, StepBudgetAndBadStarts) {
  OptimizerLoopOptions options;
  options.max_steps = 1;
  auto result = run_optimizer_loop(
      options, [](int, int setting) { return trace(setting); }, [](int, int) {});
  EXPECT_EQ(result.steps.size(), 1u);
  EXPECT_FALSE(result.converged);
  options.start[0] = 100;
  EXPECT_THROW(run_optimizer_loop(
                   options, [](int, int s) { return trace(s); }, [](int, int) {}),
               std::invalid_argument);
  options.start[0] = 512;
  options.max_steps = 0;
  EXPECT_THROW(check_optimizer_loop_options(options), std::invalid_argument);
  // Equal starts agree at once; nothing is changed.
  options.max_steps = 5;
  options.start[1] = 512;
  int applies = 0;
  auto same = run_optimizer_loop(
      options, [](int, int s) { return trace(s); }, [&](int, int) { ++applies; });
  EXPECT_TRUE(same.converged);
  EXPECT_EQ(same.steps.size(), 1u);
  EXPECT_EQ(same.steps[0].changed_slot, -1);
  EXPECT_EQ(applies, 2);  // the two starting settings only
}

TEST(OptimizerLoop, ReplaysTheEmulatorTraceInBenchResults) {
  // The per-iteration modeled times recorded by `optimize casea --objective cost --workers 100`
  // on the emulator (bench/RESULTS.md): replayed, the loop takes the same two steps.
  const std::map<std::pair<int, int>, std::vector<double>> recorded = {
      {{1, 512}, {2.2094241296583688, 2.210135196345556, 2.205609968857118}},
      {{1, 1536}, {2.164387113097405, 2.169919235254254, 2.165299638479905}},
      {{2, 512}, {2.210217185073056, 2.213564165136181, 2.206944638034384}},
      {{2, 1024}, {2.1721789304018446, 2.173516056346962, 2.170775296483173}}};
  int step = 0;
  OptimizerLoopOptions options;
  auto result = run_optimizer_loop(
      options,
      [&](int slot, int setting) {
        if (slot == 0) ++step;
        return recorded.at({step, setting});
      },
      [](int, int) {});
  ASSERT_EQ(result.steps.size(), 2u);
  EXPECT_DOUBLE_EQ(result.steps[0].rule.slope, 2.1451444732912988);
  EXPECT_EQ(result.steps[0].rule.change, -512);
  EXPECT_EQ(result.steps[0].rule.new_setting, 1024);
  EXPECT_EQ(result.steps[0].changed_slot, 1);
  EXPECT_DOUBLE_EQ(result.steps[1].rule.slope, 2.134605954931962);
  EXPECT_EQ(result.steps[1].rule.new_setting, 512);
  EXPECT_TRUE(result.converged);
  EXPECT_EQ(result.best_setting, 512);
}
