#pragma once
#include <CLI/CLI.hpp>

namespace stratus::trainer {
// Adds the `report` subcommand; it runs from its CLI11 callback (failures: exit code 1).
CLI::App* register_report(CLI::App& app);
}  // namespace stratus::trainer
