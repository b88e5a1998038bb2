#pragma once
// The command lines of `stratus-trainer casea`, `caseb` and `stop` (CLOUD 2018 Case A and Case B
// as the paper ran them, and the run's emergency stop).

#include <string>
#include <vector>

#include "common_options.hpp"
#include "subcommand.hpp"
#include "stratus/trainer/model_averaging.hpp"

namespace stratus::trainer {

struct CaseCommand {
  ModelAveragingOptions options;
  TargetFlags where;
  std::string orchestration = "functions";
  std::string merge_tree;
  std::size_t threads = 0;
  double call_timeout_s = 900;
  std::uint32_t stall_timeout_s = 600;
  std::uint32_t revive_after_s = 60;
  BackupFlags backup;  // driver
  std::string initialisation = "paper";
  std::string save_model;
  ReportFlags report;
  OutputFlags print;
};

struct StopCommand {
  std::string run_id;
  std::string bucket = "stratus-runs";
  TargetFlags where;
  std::uint32_t timeout_s = 900;
  OutputFlags print;  // --json: a machine-readable summary instead of the lines
};

// Adds the three subcommands to the trainer's command line: casea, caseb, stop.
std::vector<Subcommand> add_case_commands(CLI::App& app);

}  // namespace stratus::trainer
