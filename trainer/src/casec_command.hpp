#pragma once
// `stratus-trainer casec`: CLOUD 2018 Case C, random hyperparameter search on MNIST, one function
// invocation per trial (trainer/include/stratus/trainer/hyperparameter_search.hpp).

#include "subcommand.hpp"

namespace stratus::trainer {

// Adds `casec` to the trainer's command line.
Subcommand add_casec_command(CLI::App& app);

}  // namespace stratus::trainer
