#include "stratus/trainer/optimizer_loop.hpp"

#include <stdexcept>
#include <string>

namespace stratus::trainer {

void check_optimizer_loop_options(const OptimizerLoopOptions& options) {
  const KnobRule& rule = options.rule;
  for (int setting : options.start) {
    if (setting < rule.lowest || setting > rule.highest) {
      throw std::invalid_argument("optimizer: start setting " + std::to_string(setting) +
                                  " is outside [" + std::to_string(rule.lowest) + ", " +
                                  std::to_string(rule.highest) + "]");
    }
  }
  if (options.max_steps < 1) throw std::invalid_argument("optimizer: --max-steps must be >= 1");
}

OptimizerLoopResult run_optimizer_loop(
    const OptimizerLoopOptions& options,
    const std::function<std::vector<double>(int slot, int setting)>& measure,
    const std::function<void(int slot, int setting)>& apply,
    const std::function<void(const OptimizerLoopStep&)>& on_step) {
  check_optimizer_loop_options(options);
  const KnobRule& rule = options.rule;
  int setting[2] = {options.start[0], options.start[1]};
  for (int slot = 0; slot < 2; ++slot) apply(slot, setting[slot]);
  OptimizerLoopResult result;
  std::optional<double> previous_slope;
  for (int n = 1; n <= options.max_steps; ++n) {
    OptimizerLoopStep step;
    step.step = n;
    for (int slot = 0; slot < 2; ++slot)
      step.slot[slot] = {setting[slot], measure(slot, setting[slot])};
    step.rule =
        optimizer_step(options.objective, options.knob, rule, setting[0], step.slot[0].iteration_s,
                       setting[1], step.slot[1].iteration_s, previous_slope);
    result.best_setting = step.rule.best_setting;
    if (setting[0] != setting[1]) {
      // The loser (the slot at other_setting) takes the new setting, also when that makes the
      // two agree: both functions end at the winning configuration.
      step.changed_slot = setting[0] == step.rule.other_setting ? 0 : 1;
      setting[step.changed_slot] = step.rule.new_setting;
      apply(step.changed_slot, step.rule.new_setting);
      previous_slope = step.rule.slope;
    }
    result.steps.push_back(step);
    if (on_step) on_step(result.steps.back());
    if (step.rule.converged) {
      result.converged = true;
      break;
    }
  }
  return result;
}

}  // namespace stratus::trainer
