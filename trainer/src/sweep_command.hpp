#pragma once
// `stratus-trainer sweep casea`: a what-if grid of memory sizes x worker counts, each point a real
// short Case A run whose modeled AWS time and cost are read, with the Pareto front marked
// (pareto.hpp). AWS Lambda Power Tuning's idea, for whole training runs and for free.

#include "subcommand.hpp"

namespace stratus::trainer {

// Adds `sweep` to the trainer's command line.
Subcommand add_sweep_command(CLI::App& app);

}  // namespace stratus::trainer
