#pragma once
// `stratus-trainer optimize` and `sweep` registered together (main.cpp needs one line each way).

#include "optimize_command.hpp"
#include "sweep_command.hpp"

namespace stratus::trainer {

struct TuningCommands {
  explicit TuningCommands(CLI::App& app) : optimize(app), sweep(app) {}
  std::optional<int> run_if_parsed() {
    if (auto code = optimize.run_if_parsed()) return code;
    return sweep.run_if_parsed();
  }
  OptimizeCommandHandle optimize;
  SweepCommandHandle sweep;
};

}  // namespace stratus::trainer
