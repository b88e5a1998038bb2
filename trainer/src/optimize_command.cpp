// `stratus-trainer optimize casea` (optimize_command.hpp): deploys the model_averaging worker
// twice (the paper's two configurations as two functions), then runs the monitor loop: a short
// Case A run on each, the step rule on their per-iteration times, UpdateFunctionConfiguration on
// the losing function (memory) or the next run's worker count (workers), until they agree.

#include "optimize_command.hpp"

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "stratus/trainer/optimizer_loop.hpp"
#include "tuning_options.hpp"

namespace stratus::trainer {

struct OptimizeCommand {
  CLI::App* app = nullptr;
  ShortCaseA run;
  std::string workload;
  std::string objective = "cost";
  std::string vary = "memory";
  std::vector<int> start;
  std::string range;
  int step = 0;
  int clip = 0;
  int max_steps = 10;
  std::uint32_t workers = 100;  // --vary memory: every run's worker count
  int memory_mb = 1536;         // --vary workers: both functions' memory size
  std::string function_prefix = "model_averaging_opt";
};

namespace {

using nlohmann::ordered_json;

KnobRule chosen_rule(const OptimizeCommand& c, Knob knob) {
  KnobRule rule = rule_for(knob);
  if (!c.range.empty()) {
    const auto colon = c.range.find(':');
    try {
      if (colon == std::string::npos) throw std::invalid_argument("no colon");
      std::size_t used = 0;
      rule.lowest = std::stoi(c.range.substr(0, colon), &used);
      if (used != colon) throw std::invalid_argument("trailing text");
      rule.highest = std::stoi(c.range.substr(colon + 1), &used);
      if (used != c.range.size() - colon - 1) throw std::invalid_argument("trailing text");
    } catch (const std::exception&) {
      throw std::invalid_argument("--range must be LOW:HIGH, e.g. 256:1536 (got '" + c.range +
                                  "')");
    }
  }
  if (c.step != 0) rule.quantum = c.step;
  if (c.clip != 0) rule.clip = c.clip;
  if (rule.lowest < 1 || rule.lowest > rule.highest)
    throw std::invalid_argument("--range LOW:HIGH needs 1 <= LOW <= HIGH");
  if (knob == Knob::memory && (rule.lowest < 128 || rule.highest > 10240))
    throw std::invalid_argument("--range for memory must stay within Lambda's 128..10240 MB");
  if (rule.clip < rule.quantum) throw std::invalid_argument("--clip must be at least --step");
  return rule;
}

int run_optimize(OptimizeCommand& c) {
  const Objective objective = c.objective == "cost" ? Objective::cost : Objective::perf_per_cost;
  const Knob knob = c.vary == "memory" ? Knob::memory : Knob::workers;
  const KnobRule rule = chosen_rule(c, knob);
  OptimizerLoopOptions loop;
  loop.objective = objective;
  loop.knob = knob;
  loop.rule = rule;
  loop.max_steps = c.max_steps;
  if (c.start.empty())
    c.start = knob == Knob::memory ? std::vector<int>{512, 1536} : std::vector<int>{50, 100};
  if (c.start.size() != 2) throw std::invalid_argument("--start takes two settings, A,B");
  loop.start[0] = c.start[0];
  loop.start[1] = c.start[1];
  const char* unit = knob == Knob::memory ? "MB" : "workers";
  check_optimizer_loop_options(loop);

  TuningTarget target(tuning_target_options(c.run));
  if (knob == Knob::memory && !target.has_functions()) {
    throw std::invalid_argument(
        "--vary memory needs functions with a memory size: --target an emulator URL or aws "
        "(in-process "
        "functions have none)");
  }
  // In-process there is one worker function, found by name; elsewhere the two configurations
  // are two functions, as in the paper.
  const std::string names[2] = {
      target.has_functions() ? c.function_prefix + "_a" : "model_averaging",
      target.has_functions() ? c.function_prefix + "_b" : "model_averaging"};
  int workers[2] = {static_cast<int>(c.workers), static_cast<int>(c.workers)};
  const bool table = c.run.print.table();
  if (target.has_functions()) {
    for (int slot = 0; slot < 2; ++slot)
      target.deploy_worker(names[slot], knob == Knob::memory ? loop.start[slot] : c.memory_mb);
  }
  const ordered_json rule_json = {{"gain", rule.gain},
                                  {"quantum", rule.quantum},
                                  {"clip", rule.clip},
                                  {"lowest", rule.lowest},
                                  {"highest", rule.highest}};
  if (table) {
    std::printf(
        "optimize casea: objective %s (%s), varying %s in [%d, %d] %s, steps of %d, clip %d, at "
        "most %d steps\n"
        "  A = %s, B = %s on %s; %s; %u rounds of %u x %u on %llu samples, orchestration %s\n"
        "  iteration time: %s\n",
        c.objective.c_str(),
        objective == Objective::cost ? "median memory x time, lower wins"
                                     : "median 1/(memory x time^2), higher wins",
        c.vary.c_str(), rule.lowest, rule.highest, unit, rule.quantum, rule.clip, c.max_steps,
        names[0].c_str(), names[1].c_str(), target.label().c_str(),
        knob == Knob::memory ? (std::to_string(c.workers) + " workers").c_str()
                             : (std::to_string(c.memory_mb) + " MB").c_str(),
        c.run.rounds, c.run.batches, c.run.batch_size,
        static_cast<unsigned long long>(c.run.samples), c.run.orchestration.c_str(),
        to_string(target.clock()));
    std::printf("%5s %8s %14s %8s %14s %14s %7s %7s  %s\n", "step", "A", "A_metric", "B",
                "B_metric", "slope", "change", "new", "changed");
    std::fflush(stdout);
  }

  // What each measurement ran, for the report.
  ordered_json runs[2];
  auto measure = [&](int slot, int setting) {
    const std::uint32_t count = knob == Knob::workers ? static_cast<std::uint32_t>(setting)
                                                      : static_cast<std::uint32_t>(workers[slot]);
    ModelAveragingResult result = target.run(case_a_options(c.run, count, names[slot]));
    std::vector<double> seconds;
    double modeled_cost = 0, cost = 0, wall_ms = 0;
    for (const RoundRow& r : result.rounds) {
      seconds.push_back(target.iteration_seconds(r, count));
      modeled_cost += r.modeled_cost_usd.value_or(0);
      cost += r.cost_usd;
      wall_ms += r.wall_ms;
    }
    runs[slot] = {{"run_id", result.run_id},
                  {"workers", count},
                  {"wall_ms", wall_ms},
                  {"cost_usd", cost},
                  {"modeled_cost_usd", modeled_cost},
                  {"final_accuracy", result.rounds.back().accuracy}};
    return seconds;
  };
  auto apply = [&](int slot, int setting) {
    if (knob == Knob::memory)
      target.set_memory(names[slot], setting);
    else
      workers[slot] = setting;
  };
  ordered_json steps = ordered_json::array();
  auto on_step = [&](const OptimizerLoopStep& s) {
    ordered_json slots = ordered_json::array();
    for (int slot = 0; slot < 2; ++slot) {
      const double metric =
          s.slot[slot].setting == s.rule.best_setting ? s.rule.best_metric : s.rule.other_metric;
      ordered_json entry = {{"function", names[slot]},
                            {"setting", s.slot[slot].setting},
                            {"iteration_s", s.slot[slot].iteration_s},
                            {"metric", metric}};
      for (auto& [key, value] : runs[slot].items()) entry[key] = value;
      slots.push_back(entry);
    }
    ordered_json line = {
        {"step", s.step},
        {"slots", slots},
        {"best_setting", s.rule.best_setting},
        {"other_setting", s.rule.other_setting},
        {"best_metric", s.rule.best_metric},
        {"other_metric", s.rule.other_metric},
        {"slope", s.rule.slope},
        {"change", s.rule.change},
        {"new_setting", s.rule.new_setting},
        {"changed_function",
         s.changed_slot >= 0 ? ordered_json(names[s.changed_slot]) : ordered_json(nullptr)},
        {"converged", s.rule.converged}};
    steps.push_back(line);
    if (c.run.print.json) {
      std::cout << line.dump() << "\n" << std::flush;
    } else if (table) {
      std::printf(
          "%5d %8d %14.8g %8d %14.8g %14.6g %7d %7d  %s\n", s.step, s.slot[0].setting,
          slots[0]["metric"].get<double>(), s.slot[1].setting, slots[1]["metric"].get<double>(),
          s.rule.slope, s.rule.change, s.rule.new_setting,
          s.changed_slot >= 0
              ? (names[s.changed_slot] + " -> " + std::to_string(s.rule.new_setting)).c_str()
              : "-");
      std::fflush(stdout);
    }
  };
  const OptimizerLoopResult result = run_optimizer_loop(loop, measure, apply, on_step);

  // What the functions are now, as the target says (the losing one was updated).
  ordered_json final_settings = ordered_json::object();
  for (int slot = 0; slot < 2; ++slot) {
    if (knob == Knob::memory)
      final_settings[names[slot]] = target.memory_of(names[slot]);
    else
      final_settings[names[slot]] = workers[slot];
  }
  ordered_json summary = {{"converged", result.converged},
                          {"steps", result.steps.size()},
                          {"best_setting", result.best_setting},
                          {"unit", unit},
                          {"final_settings", final_settings}};
  if (c.run.print.json) {
    std::cout << ordered_json{{"result", summary}}.dump() << "\n";
  } else if (table) {
    std::printf(
        "result: %s after %zu step(s): %d %s (now %s)\n",
        result.converged ? "the two configurations agree" : "step budget spent, not converged",
        result.steps.size(), result.best_setting, unit, final_settings.dump().c_str());
  }
  if (c.run.report.wanted()) {
    ordered_json configuration = case_a_configuration(c.run);
    if (knob == Knob::memory)
      configuration["workers"] = c.workers;
    else
      configuration["memory_mb"] = c.memory_mb;
    configuration["start"] = c.start;
    configuration["max_steps"] = c.max_steps;
    ordered_json report = {{"workload", "optimize"},
                           {"case", "casea"},
                           {"objective", c.objective},
                           {"knob", c.vary},
                           {"unit", unit},
                           {"target", target.label()},
                           {"clock", to_string(target.clock())},
                           {"functions", {names[0], names[1]}},
                           {"rule", rule_json},
                           {"configuration", configuration},
                           {"steps", steps},
                           {"converged", result.converged},
                           {"best_setting", result.best_setting},
                           {"final_settings", final_settings}};
    c.run.report.write(report);
  }
  return 0;
}

}  // namespace

Subcommand add_optimize_command(CLI::App& app) {
  auto command = std::make_shared<OptimizeCommand>();
  OptimizeCommand& c = *command;
  c.app = app.add_subcommand(
      "optimize",
      "CLOUD 2018's cost optimizer: move memory size or worker count between two configurations "
      "(two functions) until they agree");
  c.app->add_option("workload", c.workload, "what to train: casea")
      ->required()
      ->check(CLI::IsMember({"casea"}));
  c.app
      ->add_option(
          "--objective", c.objective,
          "cost (memory x time, lower wins) or perf-per-cost (1/(memory x time^2), higher wins)")
      ->check(CLI::IsMember({"cost", "perf-per-cost"}))
      ->capture_default_str();
  c.app
      ->add_option("--vary", c.vary,
                   "the knob: memory (MB, UpdateFunctionConfiguration) or workers")
      ->check(CLI::IsMember({"memory", "workers"}))
      ->capture_default_str();
  c.app
      ->add_option(
          "--start", c.start,
          "the two configurations' first settings, A,B (default: 512,1536 MB or 50,100 workers)")
      ->delimiter(',')
      ->expected(2);
  c.app->add_option(
      "--range", c.range,
      "LOW:HIGH the knob is clamped to (default: the paper's, 256:1536 MB or 50:200)");
  c.app
      ->add_option("--step", c.step,
                   "the quantum a change is rounded away from 0 to (default: 64 MB or 10 workers)")
      ->check(CLI::Range(1, 10000));
  c.app
      ->add_option("--clip", c.clip,
                   "the largest change of one step (default: 512 MB or 50 workers)")
      ->check(CLI::Range(1, 100000));
  c.app
      ->add_option("--max-steps", c.max_steps,
                   "stop after this many steps even if they do not agree")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  c.app->add_option("--workers", c.workers, "--vary memory: the worker count of every run")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  c.app->add_option("--memory", c.memory_mb, "--vary workers: both functions' memory size in MB")
      ->check(CLI::Range(128, 10240))
      ->capture_default_str();
  c.app
      ->add_option("--function-prefix", c.function_prefix,
                   "the two functions are PREFIX_a and PREFIX_b (created or updated)")
      ->capture_default_str();
  add_short_case_a_options(*c.app, c.run, 3);
  return {c.app, [command] { return run_optimize(*command); }};
}

}  // namespace stratus::trainer
