#pragma once
// The step rule of CLOUD 2018's cost optimizer (the paper's monitor) as a pure function over
// recorded per-iteration times, so a trace replays to the same trajectory (DESIGN.md).

#include <optional>
#include <vector>

namespace stratus::trainer {

enum class Objective { cost, perf_per_cost };
enum class Knob { memory, workers };

struct KnobRule {
  double gain;  // -gain x slope: 250 for memory, 700/10 for workers
  int quantum;  // 64 MB or 10 workers
  int clip;     // +/-512 MB or +/-50 workers
  int lowest, highest;
};
KnobRule rule_for(Knob knob);

// median(memory x time) or median(1/(memory x time^2)) over the iterations after the first
// min(10, n-1) (warm-up: cold starts, first S3 reads).
double configuration_metric(Objective objective, double memory_mb,
                            const std::vector<double>& iteration_s);

// True when metric a is the better one. The paper lets the smaller value win in both modes, which
// is wrong for perf-per-cost (bigger is better); this is the fixed comparison. optimizer_step
// fixes the step's direction with it: perf-per-cost climbs (the rule on the negated metric).
bool better(Objective objective, double a, double b);

struct OptimizerStep {
  int best_setting = 0, other_setting = 0;  // after ordering by metric
  double best_metric = 0, other_metric = 0;
  double slope = 0;
  int change = 0;       // rounded, clipped
  int new_setting = 0;  // for the losing configuration, clamped
  bool converged = false;
};

// One step: settings a and b with their per-iteration times; previous_slope is empty on the first.
OptimizerStep optimizer_step(Objective objective, Knob knob, int setting_a,
                             const std::vector<double>& times_a, int setting_b,
                             const std::vector<double>& times_b,
                             std::optional<double> previous_slope);
// The same with the knob's range, quantum and clip given (a small test grid, a smaller host);
// the gain and the metric stay the knob's.
OptimizerStep optimizer_step(Objective objective, Knob knob, const KnobRule& rule, int setting_a,
                             const std::vector<double>& times_a, int setting_b,
                             const std::vector<double>& times_b,
                             std::optional<double> previous_slope);

}  // namespace stratus::trainer
