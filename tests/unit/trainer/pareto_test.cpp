#include "stratus/trainer/pareto.hpp"

#include <gtest/gtest.h>

#include "stratus/trainer/sweep_grid.hpp"

using namespace stratus::trainer;

TEST(Pareto, FrontOfAGrid) {
  // (time, cost): a fast expensive one, a slow cheap one, one in between, and dominated ones.
  const std::vector<TimeCost> points{{1.0, 9.0}, {5.0, 1.0}, {2.0, 4.0},
                                     {2.5, 4.0}, {6.0, 2.0}, {2.0, 4.0}};
  EXPECT_EQ(pareto_front(points), (std::vector<bool>{true, true, true, false, false, true}));
  EXPECT_TRUE(pareto_front({}).empty());
  EXPECT_EQ(pareto_front({{3, 3}}), std::vector<bool>{true});
  // Same time, lower cost dominates; same cost, lower time dominates.
  EXPECT_EQ(pareto_front({{1, 2}, {1, 3}, {0.5, 3}}), (std::vector<bool>{true, false, true}));
  EXPECT_EQ(pareto_front({{1, 2}, {2, 2}}), (std::vector<bool>{true, false}));
}

TEST(SweepGrid, RangesAndLists) {
  EXPECT_EQ(parse_grid_values("256:1536:256", "--memory", 128, 10240),
            (std::vector<int>{256, 512, 768, 1024, 1280, 1536}));
  EXPECT_EQ(parse_grid_values("256:1024:384", "--memory", 128, 10240),
            (std::vector<int>{256, 640, 1024}));
  EXPECT_EQ(parse_grid_values("256:1000:512", "--memory", 128, 10240),
            (std::vector<int>{256, 768}));
  EXPECT_EQ(parse_grid_values("50,100,200", "--workers", 1, 100000),
            (std::vector<int>{50, 100, 200}));
  EXPECT_EQ(parse_grid_values("7", "--workers", 1, 100000), std::vector<int>{7});
  for (const char* bad : {"", "a", "1:2", "1:2:3:4", "512:256:64", "256:512:0", "256:512:-1", "64",
                          "512,512", "1,,2", "2x", "99999999999", "128:10240:1"}) {
    EXPECT_THROW(parse_grid_values(bad, "--memory", 128, 10240), std::invalid_argument) << bad;
  }
}
