#pragma once
// What `stratus-trainer optimize` and `sweep` run on: one target (the emulator, AWS, or
// in-process) that deploys copies of the model_averaging worker under their own names (the
// CLOUD 2018 monitor runs each configuration as its own function), changes a copy's memory size
// with UpdateFunctionConfiguration, and runs short Case A trainings on it.

#include <chrono>
#include <optional>
#include <string>

#include "stratus/common/lambda_client.hpp"
#include "stratus/trainer/model_averaging.hpp"
#include "stratus/trainer/target.hpp"

namespace stratus::trainer {

// Where an iteration's time comes from: the emulator's modeled AWS figures, AWS's billed ones
// (a round's billed ms per worker: every worker of the paper's orchestration is billed for the
// whole round), or this host's wall clock (in-process, where nothing is billed).
enum class IterationClock { modeled, billed, measured };
const char* to_string(IterationClock clock);

class TuningTarget {
 public:
  struct Options {
    TargetOptions target;
    std::string role;  // AWS: the IAM role the copies run as
    std::chrono::seconds wait{300};
  };
  explicit TuningTarget(const Options& options);
  TuningTarget(const TuningTarget&) = delete;
  TuningTarget& operator=(const TuningTarget&) = delete;

  bool has_functions() const { return lambda_.has_value(); }  // false: in-process
  const std::string& label() const { return target_.label; }
  TargetKind kind() const { return target_.kind; }
  IterationClock clock() const;

  // Creates `name` running the model_averaging handler from this build's functions.zip at
  // memory_mb, or brings an existing one to that code and memory; recursion Allow (its workers
  // re-invoke themselves). Waits until it is ready.
  void deploy_worker(const std::string& name, int memory_mb);
  // UpdateFunctionConfiguration (MemorySize only), then waits until the update finished.
  void set_memory(const std::string& name, int memory_mb);
  // GetFunctionConfiguration's MemorySize.
  int memory_of(const std::string& name);

  // One Case A training (options.function names the worker).
  ModelAveragingResult run(const ModelAveragingOptions& options);

  // One iteration's time in seconds by clock(); throws std::runtime_error when the round has
  // no such figure (e.g. the emulator's time model is off).
  double iteration_seconds(const RoundRow& round, std::uint32_t workers) const;

 private:
  Options options_;
  Target target_;
  std::optional<aws::LambdaClient> lambda_;
  std::optional<S3TimeProfile> s3_profile_;  // the emulator's, asked once
  bool s3_profile_fetched_ = false;
};

}  // namespace stratus::trainer
