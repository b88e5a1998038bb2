#pragma once
// The Pareto front of a what-if grid (`stratus-trainer sweep`): the configurations no other one
// beats on both time and cost.

#include <vector>

namespace stratus::trainer {

struct TimeCost {
  double time = 0;
  double cost = 0;
};

// on_front[i] is true when no point j dominates point i: time_j <= time_i and cost_j <= cost_i
// with at least one strictly smaller. Equal points are all on the front. O(n^2): a grid is small.
std::vector<bool> pareto_front(const std::vector<TimeCost>& points);

}  // namespace stratus::trainer
