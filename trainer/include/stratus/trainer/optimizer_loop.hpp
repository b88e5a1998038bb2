#pragma once
// CLOUD 2018's monitor as a loop over the step rule (cost_optimizer.hpp): two configurations
// ("slots", deployed as two functions) are measured, the step rule compares them, the losing
// slot gets the new setting, and both are measured again, until the two agree or the step budget
// is spent. How a slot is measured and changed is the caller's (short Case A runs on a target,
// UpdateFunctionConfiguration), so the loop replays a recorded trace exactly.

#include <functional>
#include <optional>
#include <vector>

#include "stratus/trainer/cost_optimizer.hpp"

namespace stratus::trainer {

struct OptimizerLoopOptions {
  Objective objective = Objective::cost;
  Knob knob = Knob::memory;
  KnobRule rule = rule_for(Knob::memory);
  int start[2] = {512, 1536};  // the two slots' first settings
  int max_steps = 10;
};

struct SlotMeasurement {
  int setting = 0;
  std::vector<double> iteration_s;  // per-iteration times, in order
};

struct OptimizerLoopStep {
  int step = 0;  // 1, 2, ...
  SlotMeasurement slot[2];
  OptimizerStep rule;     // the step rule's answer on these measurements
  int changed_slot = -1;  // the slot that got rule.new_setting; -1 when the two were equal
};

struct OptimizerLoopResult {
  std::vector<OptimizerLoopStep> steps;
  bool converged = false;
  int best_setting = 0;  // the last step's winner
};

// Throws std::invalid_argument for starts outside the rule's range or a step budget below 1.
void check_optimizer_loop_options(const OptimizerLoopOptions& options);

// measure(slot, setting) runs slot at setting and returns its per-iteration times; apply(slot,
// setting) changes the slot's configuration before it is measured at a new setting (and once per
// slot at the start). Checks the options first.
OptimizerLoopResult run_optimizer_loop(
    const OptimizerLoopOptions& options,
    const std::function<std::vector<double>(int slot, int setting)>& measure,
    const std::function<void(int slot, int setting)>& apply,
    const std::function<void(const OptimizerLoopStep&)>& on_step = {});

}  // namespace stratus::trainer
