#include "stratus/trainer/cost_optimizer.hpp"

#include <gtest/gtest.h>

using namespace stratus::trainer;

TEST(CostOptimizer, MetricDropsWarmupAndTakesMedian) {
  // 12 iterations: the first 10 are dropped, median of the last two.
  std::vector<double> t(12, 100.0);
  t[10] = 1.0;
  t[11] = 3.0;
  EXPECT_DOUBLE_EQ(configuration_metric(Objective::cost, 512, t), 512 * 2.0);
  // 3 iterations: drop min(10, 2) = 2, keep the last.
  EXPECT_DOUBLE_EQ(configuration_metric(Objective::perf_per_cost, 2, {9, 9, 0.5}),
                   1.0 / (2 * 0.25));
  EXPECT_THROW(configuration_metric(Objective::cost, 512, {1.0}), std::invalid_argument);
}

TEST(CostOptimizer, PerfPerCostBiggerWins) {
  EXPECT_TRUE(better(Objective::cost, 1, 2));
  EXPECT_TRUE(better(Objective::perf_per_cost, 2, 1));
}

TEST(CostOptimizer, RecordedTraceMemorySteps) {
  // Cost: 512 MB at 1.0 s/iter = 512; 1024 MB at 0.45 s = 460.8 -> 1024 wins.
  const std::vector<double> a{5, 1.0, 1.0}, b{5, 0.45, 0.45};
  auto s = optimizer_step(Objective::cost, Knob::memory, 512, a, 1024, b, std::nullopt);
  EXPECT_EQ(s.best_setting, 1024);
  EXPECT_EQ(s.other_setting, 512);
  EXPECT_DOUBLE_EQ(s.slope, (460.8 - 512.0) / 512.0);  // -0.1
  // -250 x -0.1 = 25 -> away from 0 to 64.
  EXPECT_EQ(s.change, 64);
  EXPECT_EQ(s.new_setting, 576);
  EXPECT_FALSE(s.converged);
  // Second step with the derivative term: slope -0.1 again, +12 x 0 -> same change.
  auto s2 = optimizer_step(Objective::cost, Knob::memory, 576, a, 1024, b, s.slope);
  EXPECT_EQ(s2.change, 64);
}

TEST(CostOptimizer, ClipClampAndAgree) {
  // A steep slope clips to 512 and clamps to 1536.
  auto s = optimizer_step(Objective::cost, Knob::memory, 1024, {1, 1, 0.1}, 1280, {1, 1, 10.0},
                          std::nullopt);
  EXPECT_EQ(s.best_setting, 1024);
  EXPECT_EQ(s.change, -512);
  EXPECT_EQ(s.new_setting, 768);
  auto up = optimizer_step(Objective::cost, Knob::memory, 1536, {1, 1, 0.01}, 1280, {1, 1, 10.0},
                           std::nullopt);
  EXPECT_EQ(up.new_setting, 1536);
  EXPECT_TRUE(up.converged);
  auto same = optimizer_step(Objective::cost, Knob::memory, 512, {1, 1}, 512, {1, 1}, std::nullopt);
  EXPECT_TRUE(same.converged);
}

TEST(CostOptimizer, WorkersRule) {
  // Workers: gain 70, steps of 10, clip 50, range [50, 200].
  auto s = optimizer_step(Objective::cost, Knob::workers, 100, {1, 1, 2.0}, 150, {1, 1, 1.0},
                          std::nullopt);
  EXPECT_EQ(s.best_setting, 150);
  EXPECT_DOUBLE_EQ(s.slope, (1.0 - 2.0) / 50.0);  // -0.02 -> 70 x 0.02 = 1.4 -> 10
  EXPECT_EQ(s.change, 10);
  EXPECT_EQ(s.new_setting, 110);
}

TEST(CostOptimizer, PerfPerCostLoserMovesTowardsTheWinner) {
  // 1/(512 x 0.625^2) = 0.005 beats 1/(1536 x 0.6^2) = 0.0018: 512 wins, and 1536 must come down
  // (with the comparison fixed but the paper's descent sign, it would go up, away from 512).
  auto s = optimizer_step(Objective::perf_per_cost, Knob::memory, 512, {1, 1, 0.625}, 1536,
                          {1, 1, 0.6}, std::nullopt);
  EXPECT_EQ(s.best_setting, 512);
  EXPECT_EQ(s.other_setting, 1536);
  EXPECT_LT(s.slope, 0);
  EXPECT_EQ(s.change, -64);  // |250 x slope| is tiny: rounded away from 0 to one quantum
  EXPECT_EQ(s.new_setting, 1472);
  // Cost on the same times: 512 x 0.625 = 320 beats 1536 x 0.6 = 921.6, and 1536 comes down too.
  auto c = optimizer_step(Objective::cost, Knob::memory, 512, {1, 1, 0.625}, 1536, {1, 1, 0.6},
                          std::nullopt);
  EXPECT_EQ(c.best_setting, 512);
  EXPECT_DOUBLE_EQ(c.slope, (320 - 921.6) / (512.0 - 1536.0));  // 0.5875
  EXPECT_EQ(c.change, -192);  // -250 x 0.5875 = -146.9 -> away from 0 to -192
  EXPECT_EQ(c.new_setting, 1344);
}

TEST(CostOptimizer, GivenRuleAndHugeSlopes) {
  // A small worker grid: range [2, 4], steps of 1, clip 2.
  const KnobRule rule{70.0, 1, 2, 2, 4};
  auto s = optimizer_step(Objective::cost, Knob::workers, rule, 2, {1, 1, 1.0}, 4, {1, 1, 1.5},
                          std::nullopt);
  EXPECT_EQ(s.best_setting, 2);
  EXPECT_DOUBLE_EQ(s.slope, -0.5 / -2.0);  // 0.25 -> -17.5 -> clipped to -2
  EXPECT_EQ(s.change, -2);
  EXPECT_EQ(s.new_setting, 2);
  EXPECT_TRUE(s.converged);
  // A slope far past any int clips instead of overflowing.
  auto huge = optimizer_step(Objective::cost, Knob::memory, 512, {1, 1, 1e-9}, 576, {1, 1, 1e12},
                             std::nullopt);
  EXPECT_EQ(huge.change, -512);
  EXPECT_EQ(huge.new_setting, 256);
  EXPECT_THROW(optimizer_step(Objective::cost, Knob::memory, KnobRule{250, 0, 512, 256, 1536}, 512,
                              {1, 1}, 1024, {1, 1}, std::nullopt),
               std::invalid_argument);
  EXPECT_THROW(configuration_metric(Objective::cost, 512, {1, 0.0}), std::invalid_argument);
}
