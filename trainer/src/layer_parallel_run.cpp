// `stratus-trainer layers`' driver (layer_parallel.hpp): steps of forward and backward layer
// sweeps through the fan-out engine, the gradient check, the final model.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>

#include "stratus/ml/split_mix64.hpp"
#include "stratus/trainer/layer_parallel.hpp"

namespace stratus::trainer {
namespace lp = ml::layer_parallel;
namespace {

using Clock = std::chrono::steady_clock;

struct Sweep {
  std::vector<lp::StepAnswer> answers;  // in task order
};

// One layer of one or more runs (the gradient check sweeps many probe runs at once): every slice
// is one task; answers come back in task order.
Sweep run_layer(FanOut& fan_out, const std::string& function,
                const std::vector<const lp::RunConfig*>& runs, lp::Direction direction,
                std::uint32_t step, std::uint32_t layer, FanOutTelemetry& telemetry) {
  std::vector<FanOutTask> tasks;
  for (const lp::RunConfig* run : runs) {
    for (std::uint32_t j = 0; j < run->slices(layer); ++j) {
      const lp::StepId id{direction, step, layer, j};
      tasks.push_back({function, lp::encode_request(*run, id), lp::answer_key(run->run_id, id),
                       run->run_id + " " + std::string(lp::direction_name(direction)) + " layer " +
                           std::to_string(layer) + " slice " + std::to_string(j)});
    }
  }
  Sweep sweep;
  sweep.answers.resize(tasks.size());
  fan_out.run(
      tasks,
      [&](std::size_t index, const std::string& payload) {
        lp::StepAnswer answer = lp::decode_answer(payload);
        const std::string key = lp::answer_key(answer.run_id, answer.id);
        if (key == tasks[index].key) sweep.answers[index] = std::move(answer);
        return key;
      },
      telemetry);
  return sweep;
}

void forward_pass(FanOut& fan_out, const std::string& function,
                  const std::vector<const lp::RunConfig*>& runs, std::uint32_t step,
                  FanOutTelemetry& telemetry, std::vector<double>& loss,
                  std::vector<std::uint32_t>& correct, int& replayed,
                  const LayersObserver& observer) {
  const std::uint32_t layers = static_cast<std::uint32_t>(runs.front()->layers());
  loss.assign(runs.size(), 0.0);
  correct.assign(runs.size(), 0);
  // Summed per run in layer then slice order: the same additions on every target.
  std::vector<double> l2(runs.size(), 0.0);
  for (std::uint32_t layer = 1; layer <= layers; ++layer) {
    if (observer.on_phase) {
      observer.on_phase(step, "forward " + std::to_string(layer) + "/" + std::to_string(layers));
    }
    const Sweep sweep =
        run_layer(fan_out, function, runs, lp::Direction::Forward, step, layer, telemetry);
    std::size_t at = 0;
    for (std::size_t r = 0; r < runs.size(); ++r) {
      for (std::uint32_t j = 0; j < runs[r]->slices(layer); ++j, ++at) {
        const lp::StepAnswer& a = sweep.answers[at];
        replayed += a.replayed ? 1 : 0;
        if (a.l2) l2[r] += *a.l2;
        if (layer == layers) {
          if (!a.loss || !a.correct)
            throw ml::ProtocolError("the output layer's answer has no loss");
          loss[r] = *a.loss;
          correct[r] = *a.correct;
        }
      }
    }
  }
  for (std::size_t r = 0; r < runs.size(); ++r) loss[r] += l2[r];
}

void backward_pass(FanOut& fan_out, const std::string& function, const lp::RunConfig& run,
                   std::uint32_t step, FanOutTelemetry& telemetry, int& replayed,
                   const LayersObserver& observer) {
  const std::uint32_t layers = static_cast<std::uint32_t>(run.layers());
  for (std::uint32_t layer = layers; layer >= 1; --layer) {
    if (observer.on_phase) {
      observer.on_phase(step, "backward " + std::to_string(layer) + "/" + std::to_string(layers));
    }
    const Sweep sweep =
        run_layer(fan_out, function, {&run}, lp::Direction::Backward, step, layer, telemetry);
    for (const lp::StepAnswer& a : sweep.answers) replayed += a.replayed ? 1 : 0;
  }
}

// Which hidden outputs of a run's step 0 are zero (ReLU's off units), all layers and slices in
// order.
std::vector<bool> zero_pattern(ml::ObjectStore& store, const lp::RunConfig& run) {
  std::vector<bool> zeros;
  for (std::uint32_t layer = 1; layer < run.layers(); ++layer) {
    for (std::uint32_t j = 0; j < run.slices(layer); ++j) {
      const std::string key = lp::act_key(run.run_id, 0, layer, j);
      const auto bytes = store.get(run.bucket, key);
      if (!bytes) throw ml::ProtocolError("missing s3://" + run.bucket + "/" + key);
      for (float v : lp::decode_frames(*bytes, 1, key)[0].f32) zeros.push_back(v == 0.0f);
    }
  }
  return zeros;
}

void remove_run(ml::ObjectStore& store, const lp::RunConfig& run) {
  for (const std::string& key : store.list(run.bucket, lp::run_prefix(run.run_id))) {
    store.remove(run.bucket, key);
  }
}

void claim_run(ml::ObjectStore& store, const lp::RunConfig& run) {
  const std::string key = lp::run_prefix(run.run_id) + "config.json";
  if (store.exists(run.bucket, key)) {
    throw std::invalid_argument("run id '" + run.run_id + "' is taken already (s3://" + run.bucket +
                                "/" + key + "): choose another --run-id");
  }
  store.put(run.bucket, key, lp::config_to_json(run));
}

// Distributed backprop against central differences of the distributed forward pass, at the
// initial parameters on step 0's batch. Each probe is a pair of runs whose step-0 parameters are
// the initial ones with one value moved by +/- epsilon.
GradientCheckResult check_gradients(FanOut& fan_out, ml::ObjectStore& store, const LayersData& data,
                                    const LayersOptions& options, const ml::ModelState& initial,
                                    const ml::ModelState& gradients) {
  GradientCheckResult result;
  // The parameters with the largest backprop gradients (ties: the first): where a wrong gradient
  // shows, and where float32 central differences are well above their rounding noise.
  struct Candidate {
    std::size_t tensor, index;
    float magnitude;
  };
  std::vector<Candidate> candidates;
  for (std::size_t t = 0; t < gradients.tensors.size(); ++t) {
    for (std::size_t i = 0; i < gradients.tensors[t].values.size(); ++i) {
      candidates.push_back({t, i, std::fabs(gradients.tensors[t].values[i])});
    }
  }
  std::stable_sort(
      candidates.begin(), candidates.end(),
      [](const Candidate& a, const Candidate& b) { return a.magnitude > b.magnitude; });
  candidates.resize(std::min(candidates.size(), options.gradient_check.probes));

  std::vector<lp::RunConfig> runs;
  std::vector<float> steps;  // the actual (float) distance between the two probe points
  for (std::size_t p = 0; p < candidates.size(); ++p) {
    const Candidate& c = candidates[p];
    const float value = initial.tensors[c.tensor].values[c.index];
    const float plus = value + static_cast<float>(options.gradient_check.epsilon);
    const float minus = value - static_cast<float>(options.gradient_check.epsilon);
    steps.push_back(plus - minus);
    for (int side = 0; side < 2; ++side) {
      lp::RunConfig run = options.config;
      run.run_id = options.config.run_id + "-p" + std::to_string(p) + (side ? "m" : "p");
      lp::validate(run);
      ml::ModelState probe = initial;
      probe.tensors[c.tensor].values[c.index] = side ? minus : plus;
      remove_run(store, run);
      lp::write_params(store, run, 0, probe);
      lp::write_batch(store, run, 0, data.x, data.y);
      runs.push_back(std::move(run));
    }
  }
  std::vector<const lp::RunConfig*> pointers;
  for (const auto& run : runs) pointers.push_back(&run);
  std::vector<double> loss;
  std::vector<std::uint32_t> correct;
  int replayed = 0;
  if (!pointers.empty()) {
    forward_pass(fan_out, options.function, pointers, 0, result.telemetry, loss, correct, replayed,
                 {});
  }
  std::size_t checked = 0;
  for (std::size_t p = 0; p < candidates.size(); ++p) {
    const Candidate& c = candidates[p];
    GradientProbe probe;
    probe.tensor = gradients.tensors[c.tensor].name;
    probe.index = c.index;
    probe.backprop = gradients.tensors[c.tensor].values[c.index];
    probe.finite_difference = (loss[2 * p] - loss[2 * p + 1]) / static_cast<double>(steps[p]);
    const double scale = std::max(std::fabs(probe.backprop), std::fabs(probe.finite_difference));
    probe.relative_error =
        scale > 0 ? std::fabs(probe.backprop - probe.finite_difference) / scale : 0;
    if (options.config.hidden == lp::Activation::Relu) {
      probe.straddles_kink =
          zero_pattern(store, runs[2 * p]) != zero_pattern(store, runs[2 * p + 1]);
    }
    if (!probe.straddles_kink) {
      result.max_relative_error = std::max(result.max_relative_error, probe.relative_error);
      ++checked;
    }
    result.probes.push_back(probe);
  }
  for (const auto& run : runs) remove_run(store, run);
  result.passed = checked > 0 && result.max_relative_error <= options.gradient_check.tolerance;
  return result;
}

}  // namespace

LayersData generated_layers_data(std::size_t rows, std::size_t features, std::uint64_t seed) {
  if (rows == 0 || features < 2)
    throw std::invalid_argument("generated data needs rows and >= 2 features");
  ml::SplitMix64 random(seed);
  std::vector<double> w(features);
  for (double& v : w) v = random.normal();
  LayersData data;
  data.rows = rows;
  data.features = features;
  data.x.resize(rows * features);
  data.y.resize(rows);
  for (std::size_t r = 0; r < rows; ++r) {
    double score = 0;
    for (std::size_t f = 0; f < features; ++f) {
      const float v = static_cast<float>(random.normal());
      data.x[r * features + f] = v;
      score += w[f] * v;
    }
    score += 0.5 * data.x[r * features] * data.x[r * features + 1];
    data.y[r] = score > 0 ? 1.0f : 0.0f;
  }
  data.source = "generated (seed " + std::to_string(seed) + ")";
  return data;
}

LayersResult run_layers(Invoker& invoker, ml::ObjectStore& store, const LayersData& data,
                        const LayersOptions& options, const LayersObserver& observer) {
  const lp::RunConfig& run = options.config;
  lp::validate(run);
  if (data.features != run.widths.front()) {
    throw ml::ProtocolError("the data has " + std::to_string(data.features) +
                            " features but the first layer takes " +
                            std::to_string(run.widths.front()));
  }
  if (data.rows == 0) throw ml::ProtocolError("the data holds no rows");
  for (float label : data.y) {
    if (label != 0.0f && label != 1.0f) throw ml::ProtocolError("labels must be 0 or 1");
  }
  if (options.epochs == 0) throw std::invalid_argument("--epochs must be at least 1");
  if (options.gradient_check.enabled && run.run_id.size() > lp::kMaxRunIdLength - 8) {
    throw std::invalid_argument("--gradient-check needs a run id of at most " +
                                std::to_string(lp::kMaxRunIdLength - 8) + " characters");
  }
  const std::uint64_t steps_per_epoch = (data.rows + run.batch_size - 1) / run.batch_size;
  const std::uint64_t total = steps_per_epoch * options.epochs;
  if (total >= lp::kMaxSteps) throw std::invalid_argument("too many steps (epochs x batches)");

  store.ensure_bucket(run.bucket);
  claim_run(store, run);
  const ml::ModelState initial = lp::initial_network(run, options.seed);
  lp::write_params(store, run, 0, initial);

  FanOut fan_out(invoker, options.fan_out);
  LayersResult result;
  for (std::uint32_t step = 0; step < total; ++step) {
    const auto start = Clock::now();
    LayersStep record;
    record.step = step;
    record.epoch = static_cast<std::uint32_t>(step / steps_per_epoch) + 1;
    record.rows = run.batch_size;
    lp::write_batch(store, run, step, data.x, data.y);
    std::vector<double> loss;
    std::vector<std::uint32_t> correct;
    forward_pass(fan_out, options.function, {&run}, step, record.telemetry, loss, correct,
                 record.replayed, observer);
    record.loss = loss[0];
    record.correct = correct[0];
    backward_pass(fan_out, options.function, run, step, record.telemetry, record.replayed,
                  observer);
    if (step == 0 && options.gradient_check.enabled) {
      result.gradient_check = check_gradients(fan_out, store, data, options, initial,
                                              lp::read_gradients(store, run, 0));
    }
    record.wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (observer.on_step) observer.on_step(record, static_cast<std::uint32_t>(total));
    result.steps.push_back(std::move(record));
  }
  result.model = lp::read_params(store, run, static_cast<std::uint32_t>(total));
  result.model_sha256 = ml::model_sha256(result.model);
  // The trained network as one stratus-model/1 object, what `predict` loads.
  store.put(run.bucket, lp::run_prefix(run.run_id) + "model.bin", ml::encode_model(result.model));
  return result;
}

}  // namespace stratus::trainer
