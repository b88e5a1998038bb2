// `stratus-trainer sweep casea` (sweep_command.hpp): deploys the model_averaging worker once
// under its own name, and for every memory size (UpdateFunctionConfiguration) and worker count
// runs a short Case A training; its time and cost (modeled AWS figures on the emulator, measured
// and billed ones on AWS) are one grid point. The table and the report mark the Pareto front.

#include "sweep_command.hpp"

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "stratus/trainer/pareto.hpp"
#include "stratus/trainer/sweep_grid.hpp"
#include "tuning_options.hpp"

namespace stratus::trainer {

struct SweepCommand {
  CLI::App* app = nullptr;
  ShortCaseA run;
  std::string workload;
  std::string memory = "256:1536:256";
  std::string workers = "50,100,200";
  std::string function = "model_averaging_sweep";
};

namespace {

using nlohmann::ordered_json;

struct GridPoint {
  int memory_mb = 0;
  int workers = 0;
  std::string run_id;
  double time_ms = 0;   // the whole run
  double cost_usd = 0;  // the whole run
  double accuracy = 0;
};

ordered_json point_json(const GridPoint& p, std::uint32_t rounds) {
  return {{"memory_mb", p.memory_mb},    {"workers", p.workers},           {"run_id", p.run_id},
          {"time_ms", p.time_ms},        {"round_ms", p.time_ms / rounds}, {"cost_usd", p.cost_usd},
          {"final_accuracy", p.accuracy}};
}

int run_sweep(SweepCommand& c) {
  const std::vector<int> memories = parse_grid_values(c.memory, "--memory", 128, 10240);
  const std::vector<int> worker_counts = parse_grid_values(c.workers, "--workers", 1, 100000);
  TuningTarget target(tuning_target_options(c.run));
  if (target.kind() == TargetKind::Local) {
    throw std::invalid_argument(
        "sweep needs memory sizes and costs: --target an emulator URL (modeled AWS figures) or aws "
        "(in-process functions have neither)");
  }
  const bool modeled = target.kind() == TargetKind::Url;
  const char* clock =
      modeled ? "modeled AWS time and cost (emulator)" : "measured wall time and billed cost (AWS)";
  const bool table = c.run.print.table();
  if (table) {
    std::printf(
        "sweep casea: memory %s MB x workers %s = %zu runs of %u rounds (%u x %u), orchestration "
        "%s,\n"
        "  function %s on %s; time and cost: %s\n",
        c.memory.c_str(), c.workers.c_str(), memories.size() * worker_counts.size(), c.run.rounds,
        c.run.batches, c.run.batch_size, c.run.orchestration.c_str(), c.function.c_str(),
        target.label().c_str(), clock);
    std::printf("%8s %8s %14s %12s %14s %9s\n", "memory", "workers", "run_ms", "round_ms",
                "cost_usd", "accuracy");
    std::fflush(stdout);
  }
  target.deploy_worker(c.function, memories.front());
  std::vector<GridPoint> points;
  for (std::size_t m = 0; m < memories.size(); ++m) {
    if (m > 0) target.set_memory(c.function, memories[m]);
    for (int workers : worker_counts) {
      const ModelAveragingResult result =
          target.run(case_a_options(c.run, static_cast<std::uint32_t>(workers), c.function));
      GridPoint p{memories[m], workers, result.run_id, 0, 0, result.rounds.back().accuracy};
      for (const RoundRow& r : result.rounds) {
        if (modeled) {
          if (!r.modeled_ms || !r.modeled_cost_usd) {
            throw std::runtime_error(
                "run " + result.run_id + " round " + std::to_string(r.round) +
                " has no modeled AWS figures (is the emulator's time_model off?)");
          }
          p.time_ms += *r.modeled_ms;
          p.cost_usd += *r.modeled_cost_usd;
        } else {
          p.time_ms += r.wall_ms;
          p.cost_usd += r.cost_usd;
        }
      }
      points.push_back(p);
      if (c.run.print.json) {
        std::cout << point_json(p, c.run.rounds).dump() << "\n" << std::flush;
      } else if (table) {
        std::printf("%8d %8d %14.2f %12.2f %14.10f %9.4f\n", p.memory_mb, p.workers, p.time_ms,
                    p.time_ms / c.run.rounds, p.cost_usd, p.accuracy);
        std::fflush(stdout);
      }
    }
  }
  std::vector<TimeCost> time_cost;
  for (const GridPoint& p : points) time_cost.push_back({p.time_ms, p.cost_usd});
  const std::vector<bool> front = pareto_front(time_cost);
  ordered_json grid = ordered_json::array(), front_json = ordered_json::array();
  for (std::size_t i = 0; i < points.size(); ++i) {
    ordered_json entry = point_json(points[i], c.run.rounds);
    entry["pareto"] = static_cast<bool>(front[i]);
    grid.push_back(entry);
    if (front[i])
      front_json.push_back({{"memory_mb", points[i].memory_mb}, {"workers", points[i].workers}});
  }
  if (c.run.print.json) {
    std::cout << ordered_json{{"pareto_front", front_json}, {"points", grid}}.dump() << "\n";
  } else if (table) {
    std::printf("\n%8s %8s %14s %16s  %s\n", "memory", "workers", "run_ms", "cost_usd", "pareto");
    for (std::size_t i = 0; i < points.size(); ++i)
      std::printf("%8d %8d %14.2f %16.10g  %s\n", points[i].memory_mb, points[i].workers,
                  points[i].time_ms, points[i].cost_usd, front[i] ? "*" : "");
    std::printf("pareto front (no other configuration is both faster and cheaper): %s\n",
                front_json.dump().c_str());
  }
  if (c.run.report.wanted()) {
    ordered_json configuration = case_a_configuration(c.run);
    configuration["memory"] = c.memory;
    configuration["workers"] = c.workers;
    configuration["function"] = c.function;
    ordered_json report = {{"workload", "sweep"},
                           {"case", "casea"},
                           {"target", target.label()},
                           {"clock", clock},
                           {"configuration", configuration},
                           {"memory_mb", memories},
                           {"workers", worker_counts},
                           {"points", grid},
                           {"pareto_front", front_json}};
    c.run.report.write(report);
  }
  return 0;
}

}  // namespace

Subcommand add_sweep_command(CLI::App& app) {
  auto command = std::make_shared<SweepCommand>();
  SweepCommand& c = *command;
  c.app = app.add_subcommand("sweep",
                             "what-if grid: Case A time and cost at every memory size x worker "
                             "count, Pareto front marked");
  c.app->add_option("workload", c.workload, "what to train: casea")
      ->required()
      ->check(CLI::IsMember({"casea"}));
  c.app->add_option("--memory", c.memory, "memory sizes in MB: LOW:HIGH:STEP or a comma list")
      ->capture_default_str();
  c.app->add_option("--workers", c.workers, "worker counts: a comma list or LOW:HIGH:STEP")
      ->capture_default_str();
  c.app->add_option("--function", c.function, "the worker copy the sweep runs (created or updated)")
      ->capture_default_str();
  add_short_case_a_options(*c.app, c.run, 2);
  return {c.app, [command] { return run_sweep(*command); }};
}

}  // namespace stratus::trainer
