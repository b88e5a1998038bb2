#pragma once
// The command-line part `stratus-trainer optimize` and `sweep` share: where to run (target,
// AWS role), and the short Case A training each configuration is measured with.

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "common_options.hpp"
#include "stratus/trainer/model_averaging.hpp"
#include "stratus/trainer/tuning_target.hpp"

namespace stratus::trainer {

struct ShortCaseA {
  TargetFlags where;
  std::string role;
  double wait_s = 300;
  std::uint32_t rounds = 3;
  std::uint32_t batches = 20;
  std::uint32_t batch_size = 50;
  std::uint64_t samples = 100'000;
  std::uint64_t seed = 1;
  std::string orchestration = "functions";
  std::string bucket = "stratus-runs";
  std::uint32_t poll_ms = 100;
  double call_timeout_s = 900;
  std::uint32_t stall_timeout_s = 600;
  OutputFlags print;
  ReportFlags report;
};

void add_short_case_a_options(CLI::App& app, ShortCaseA& c, std::uint32_t default_rounds);
TuningTarget::Options tuning_target_options(const ShortCaseA& c);
// Case A at `workers` on `function`, as the options say; Ctrl-C ends it (stop flag set).
ModelAveragingOptions case_a_options(const ShortCaseA& c, std::uint32_t workers,
                                     const std::string& function);
// The Case A part of a report's "configuration".
nlohmann::json case_a_configuration(const ShortCaseA& c);

}  // namespace stratus::trainer
