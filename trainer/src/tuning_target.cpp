#include "stratus/trainer/tuning_target.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "stratus/functions/product_functions.hpp"
#include "stratus/trainer/deploy.hpp"
#include "stratus/trainer/emulator_s3_profile.hpp"
#include "stratus/trainer/local_lambda.hpp"

namespace stratus::trainer {

namespace {

constexpr const char* kWorker = "model_averaging";
constexpr const char* kEmulatorRole = "arn:aws:iam::000000000000:role/stratus-functions";

std::string read_package(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw std::invalid_argument("cannot read the functions package '" + file.string() +
                                "' (build it with `cmake --build --preset release`)");
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return std::move(bytes).str();
}

}  // namespace

const char* to_string(IterationClock clock) {
  switch (clock) {
    case IterationClock::modeled:
      return "modeled AWS time (emulator)";
    case IterationClock::billed:
      return "billed time (AWS REPORT figures)";
    case IterationClock::measured:
      return "measured wall time (in-process)";
  }
  return "?";
}

TuningTarget::TuningTarget(const Options& options)
    : options_(options), target_(make_target(options.target)) {
  if (target_.remote) lambda_.emplace(target_.remote->lambda);
  if (target_.kind == TargetKind::Aws && options_.role.empty()) {
    throw std::invalid_argument(
        "--role ARN is required on AWS: the IAM role the worker copies run as");
  }
}

IterationClock TuningTarget::clock() const {
  switch (target_.kind) {
    case TargetKind::Url:
      return IterationClock::modeled;
    case TargetKind::Aws:
      return IterationClock::billed;
    case TargetKind::Local:
      return IterationClock::measured;
  }
  return IterationClock::measured;
}

void TuningTarget::deploy_worker(const std::string& name, int memory_mb) {
  if (!lambda_) throw std::logic_error("in-process functions are not deployed");
  const functions::FunctionSpec* spec = functions::find_product_function(kWorker);
  if (!spec) throw std::logic_error("model_averaging is not a product function");
  const std::string zip = read_package(default_functions_zip());
  const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(options_.wait);
  aws::FunctionDefinition definition;
  definition.name = name;
  definition.handler = spec->handler;
  definition.memory_mb = memory_mb;
  definition.timeout_s = spec->timeout_s;
  definition.description = "Stratus cost optimizer/sweep copy of " + spec->name;
  definition.role = options_.role.empty() ? std::string(kEmulatorRole) : options_.role;
  if (auto existing = lambda_->get_function_configuration(name)) {
    lambda_->wait_until_ready(name, wait);
    if (existing->code_sha256 != code_sha256(zip)) {
      lambda_->update_function_code(name, zip);
      lambda_->wait_until_ready(name, wait);
    }
    lambda_->update_function_configuration(definition);
  } else {
    lambda_->create_function(definition, zip);
  }
  lambda_->wait_until_ready(name, wait);
  lambda_->put_function_recursion_config(name, "Allow");
}

void TuningTarget::set_memory(const std::string& name, int memory_mb) {
  if (!lambda_) throw std::logic_error("in-process functions have no memory size");
  const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(options_.wait);
  lambda_->wait_until_ready(name, wait);
  lambda_->set_memory_size(name, memory_mb);
  lambda_->wait_until_ready(name, wait);
}

int TuningTarget::memory_of(const std::string& name) {
  if (!lambda_) throw std::logic_error("in-process functions have no memory size");
  auto state = lambda_->get_function_configuration(name);
  if (!state) throw std::runtime_error("function " + name + " does not exist");
  return state->memory_mb;
}

ModelAveragingResult TuningTarget::run(const ModelAveragingOptions& options) {
  ModelAveragingOptions o = options;
  if (o.fan_out.max_in_flight > target_.invoker->concurrency())
    o.fan_out.max_in_flight = target_.invoker->concurrency();
  RunServices services{*target_.store, target_.events.get(), target_.invoker.get(), target_.label};
  if (target_.kind == TargetKind::Local)
    services.event_concurrency = LocalLambdaOptions{}.event_threads;
  if (!s3_profile_fetched_) {
    s3_profile_ = emulator_s3_profile(target_);
    s3_profile_fetched_ = true;
  }
  if (s3_profile_) services.s3_profile = *s3_profile_;
  o.budget.started = std::chrono::steady_clock::now();
  return run_model_averaging(o, services);
}

double TuningTarget::iteration_seconds(const RoundRow& round, std::uint32_t workers) const {
  switch (clock()) {
    case IterationClock::modeled:
      if (!round.modeled_ms) {
        throw std::runtime_error("round " + std::to_string(round.round) +
                                 " has no modeled AWS time (is the emulator's time_model off?)");
      }
      return *round.modeled_ms / 1000.0;
    case IterationClock::billed:
      if (round.billed_ms <= 0 || workers == 0)
        throw std::runtime_error("round " + std::to_string(round.round) + " has no billed time");
      return round.billed_ms / workers / 1000.0;
    case IterationClock::measured:
      return round.wall_ms / 1000.0;
  }
  return 0;
}

}  // namespace stratus::trainer
