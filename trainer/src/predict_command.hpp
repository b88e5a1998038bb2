#pragma once
// `stratus-trainer predict`: one image classified by the `predict` function
// (stratus/ml/predict_protocol.hpp) with a model in S3.

#include "subcommand.hpp"

namespace stratus::trainer {

// Adds `predict` to the trainer's command line.
Subcommand add_predict_command(CLI::App& app);

}  // namespace stratus::trainer
