#pragma once
// Linear regression by (mini-batch) gradient descent with the data split into worker shards: each
// step sends one request per shard (the linreg protocol, stratus/ml/linreg_protocol.hpp) through
// the fan-out engine to the `gradient`/`gradient_z` function, sums the gradients in shard order and
// updates the model. Reproduces "serverless parallel gradient descent" (DESIGN.md, system 1). The
// same requests go to every target, so every target gives the same model bit for bit.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "stratus/ml/linreg_protocol.hpp"
#include "stratus/trainer/dataset.hpp"
#include "stratus/trainer/fan_out.hpp"

namespace stratus::trainer {

using ml::linreg::PayloadFormat;

struct LinregOptions {
  int epochs = 10;
  double learning_rate = 0.1;
  int workers = 4;
  std::size_t batch_size = 0;  // 0: full batch (one step per epoch)
  PayloadFormat payload = PayloadFormat::Json;
  std::string function;  // empty: ml::linreg::function_for(payload)
  FanOutOptions fan_out;
};

struct EpochRecord {
  int epoch = 0;
  double loss = 0;  // mean over the epoch's rows of 0.5 * residual^2, at the weights each step used
  double wall_ms = 0;
  int steps = 0;
  FanOutTelemetry telemetry;
  // Modeled AWS time of the epoch (modeled_round.hpp): per step the slowest call's modeled time
  // plus the trainer's own reduce; nullopt when the calls carry no modeled figures.
  std::optional<double> modeled_ms;
};

struct LinregResult {
  std::vector<EpochRecord> epochs;
  std::vector<double> weights;
  double bias = 0;
};

// Called after each step (for progress) and after each epoch.
struct LinregObserver {
  std::function<void(int epoch, int step, int steps_per_epoch)> on_step;
  std::function<void(const EpochRecord&)> on_epoch;
};

// Throws std::invalid_argument for options that do not fit the data, FanOutError when a shard
// fails for good, ml::ProtocolError for an answer that does not fit its request.
LinregResult train_linreg(const Dataset& data, const LinregOptions& options, Invoker& invoker,
                          const LinregObserver& observer = {});

// "<invoker> function 'gradient' (json payload)": what the table and the report call the backend.
std::string describe_linreg_backend(const LinregOptions& options, const Invoker& invoker);

// The rows [begin, end) of shard `k` of `workers` over `rows` rows: contiguous, sizes differ by at
// most one.
std::pair<std::size_t, std::size_t> shard_range(std::size_t rows, int workers, int k);

}  // namespace stratus::trainer
