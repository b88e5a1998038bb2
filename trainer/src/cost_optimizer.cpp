#include "stratus/trainer/cost_optimizer.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace stratus::trainer {

KnobRule rule_for(Knob knob) {
  if (knob == Knob::memory) return {250.0, 64, 512, 256, 1536};
  return {700.0 / 10.0, 10, 50, 50, 200};
}

double configuration_metric(Objective objective, double memory_mb,
                            const std::vector<double>& iteration_s) {
  if (iteration_s.size() < 2)
    throw std::invalid_argument("cost optimizer: need at least 2 iterations");
  const std::size_t skip = std::min<std::size_t>(10, iteration_s.size() - 1);
  std::vector<double> values;
  for (std::size_t i = skip; i < iteration_s.size(); ++i) {
    const double t = iteration_s[i];
    if (!std::isfinite(t) || t <= 0)
      throw std::invalid_argument("cost optimizer: an iteration time is not a positive number");
    values.push_back(objective == Objective::cost ? memory_mb * t : 1.0 / (memory_mb * t * t));
  }
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

bool better(Objective objective, double a, double b) {
  return objective == Objective::cost ? a < b : a > b;
}

OptimizerStep optimizer_step(Objective objective, Knob knob, int setting_a,
                             const std::vector<double>& times_a, int setting_b,
                             const std::vector<double>& times_b,
                             std::optional<double> previous_slope) {
  return optimizer_step(objective, knob, rule_for(knob), setting_a, times_a, setting_b, times_b,
                        previous_slope);
}

OptimizerStep optimizer_step(Objective objective, Knob knob, const KnobRule& rule, int setting_a,
                             const std::vector<double>& times_a, int setting_b,
                             const std::vector<double>& times_b,
                             std::optional<double> previous_slope) {
  if (rule.quantum <= 0 || rule.clip < rule.quantum || rule.lowest > rule.highest)
    throw std::invalid_argument("cost optimizer: the knob's quantum, clip or range is invalid");
  OptimizerStep s;
  // Memory scales the bill; a worker count does not change one iteration's memory, so the metric
  // uses memory only for the memory knob (the paper's cost per iteration is memory x time).
  const double ma =
      configuration_metric(objective, knob == Knob::memory ? setting_a : 1.0, times_a);
  const double mb =
      configuration_metric(objective, knob == Knob::memory ? setting_b : 1.0, times_b);
  const bool a_wins = better(objective, ma, mb) || ma == mb;
  s.best_setting = a_wins ? setting_a : setting_b;
  s.other_setting = a_wins ? setting_b : setting_a;
  s.best_metric = a_wins ? ma : mb;
  s.other_metric = a_wins ? mb : ma;
  if (s.best_setting == s.other_setting) {
    s.converged = true;
    s.new_setting = s.best_setting;
    return s;
  }
  s.slope = (s.best_metric - s.other_metric) / double(s.best_setting - s.other_setting);
  double raw = -rule.gain * s.slope;
  if (previous_slope) raw += 12.0 * (s.slope - *previous_slope);
  // The paper's rule descends (the loser moves towards lower metrics). Perf-per-cost is to be
  // maximised, so it descends on the negated metric: the same rule with the sign flipped. With
  // only the comparison fixed, the loser would move away from the winner.
  if (objective == Objective::perf_per_cost) raw = -raw;
  // Away from zero to a multiple of the quantum, then clip; a zero raw change stays zero.
  // (Rounded in double: a huge slope must clip, not overflow an int.)
  const double rounded = std::ceil(std::abs(raw) / rule.quantum) * rule.quantum;
  int change = rounded >= rule.clip ? rule.clip : static_cast<int>(rounded);
  s.change = raw < 0 ? -change : change;
  s.new_setting = std::clamp(s.other_setting + s.change, rule.lowest, rule.highest);
  s.converged = s.new_setting == s.best_setting;
  return s;
}

}  // namespace stratus::trainer
