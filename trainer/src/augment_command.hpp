#pragma once
// `stratus-trainer augment`: fans the `augment` function out over the images under an S3 prefix
// (stratus/ml/augment_protocol.hpp) and reports images in/out, time and cost.

#include "subcommand.hpp"

namespace stratus::trainer {

// Adds `augment` to the trainer's command line.
Subcommand add_augment_command(CLI::App& app);

}  // namespace stratus::trainer
