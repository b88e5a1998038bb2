#pragma once
// `stratus-trainer layers`: a logistic network whose layers (or slices of K neurons) are
// functions (trainer/include/stratus/trainer/layer_parallel.hpp).

#include "subcommand.hpp"

namespace stratus::trainer {

// Adds `layers` to the trainer's command line.
Subcommand add_layers_command(CLI::App& app);

}  // namespace stratus::trainer
