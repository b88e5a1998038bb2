#pragma once
// `stratus-trainer optimize casea`: CLOUD 2018's cost optimizer (the paper's monitor) over
// memory size or worker count, on short Case A runs (optimizer_loop.hpp, cost_optimizer.hpp).

#include "subcommand.hpp"

namespace stratus::trainer {

// Adds `optimize` to the trainer's command line.
Subcommand add_optimize_command(CLI::App& app);

}  // namespace stratus::trainer
