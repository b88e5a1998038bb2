#pragma once
// The driver of `stratus-trainer layers`: a logistic network whose layers (or slices of K neurons
// of a layer) are function invocations (stratus/ml/layer_parallel.hpp). Per step: the batch goes
// to the store, then forward layer 1 -> L and backward L -> 1, each layer's slices fanned out at
// once. The number of steps is fixed before the run starts (epochs x ceil(n / batch)) and every
// task is answered once (the fan-out engine ignores repeated answers), so a repeated answer can
// never make the run go round again.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "stratus/ml/layer_parallel.hpp"
#include "stratus/ml/model_state.hpp"
#include "stratus/ml/object_store.hpp"
#include "stratus/trainer/fan_out.hpp"

namespace stratus::trainer {

struct LayersData {
  std::size_t rows = 0, features = 0;
  std::vector<float> x;  // rows x features
  std::vector<float> y;  // 0 or 1
  std::string source;    // for tables and reports
};

struct GradientCheckOptions {
  bool enabled = false;
  std::size_t probes = 12;  // parameters checked: the ones with the largest backprop gradients
  double epsilon = 1e-2;    // central difference step
  double tolerance = 1e-2;  // largest relative error that passes
};

struct LayersOptions {
  ml::layer_parallel::RunConfig config;  // run id, bucket, widths, K, optimiser, batch
  std::uint32_t epochs = 5;
  std::uint64_t seed = 1;
  std::string function = std::string(ml::layer_parallel::kFunction);
  GradientCheckOptions gradient_check;
  FanOutOptions fan_out;
};

struct LayersStep {
  std::uint32_t step = 0, epoch = 0;
  double loss = 0;  // summed logistic loss of the step's batch (+ the L2 term)
  std::uint32_t correct = 0, rows = 0;
  double wall_ms = 0;
  int replayed = 0;  // answers that found their objects written already
  FanOutTelemetry telemetry;
};

struct GradientProbe {
  std::string tensor;
  std::size_t index = 0;
  double backprop = 0, finite_difference = 0, relative_error = 0;
  // ReLU: some hidden unit is 0 at one probe point and positive at the other, so the central
  // difference straddles a kink and says nothing about the gradient; left out of the maximum.
  bool straddles_kink = false;
};

struct GradientCheckResult {
  std::vector<GradientProbe> probes;
  double max_relative_error = 0;
  bool passed = false;
  FanOutTelemetry telemetry;
};

struct LayersResult {
  std::vector<LayersStep> steps;
  ml::ModelState model;
  std::string model_sha256;
  std::optional<GradientCheckResult> gradient_check;
};

struct LayersObserver {
  std::function<void(const LayersStep&, std::uint32_t total_steps)> on_step;
  // Progress within a step: "forward 2/3", "backward 1/3".
  std::function<void(std::uint32_t step, const std::string& phase)> on_phase;
};

// Throws ml::ProtocolError for a configuration or data the protocol refuses, FanOutError when a
// layer step fails for good, std::invalid_argument when the run id is taken already.
LayersResult run_layers(Invoker& invoker, ml::ObjectStore& store, const LayersData& data,
                        const LayersOptions& options, const LayersObserver& observer = {});

// The generated task (seeded): x ~ N(0, 1)^D, label 1 when w.x + 0.5 x0 x1 > 0 with w ~ N(0, 1)
// from the same stream, else 0.
LayersData generated_layers_data(std::size_t rows, std::size_t features, std::uint64_t seed);

}  // namespace stratus::trainer
