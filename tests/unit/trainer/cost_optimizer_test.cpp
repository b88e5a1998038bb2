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
