// Case C's trial kernels: the data conversion, the initial network, a segment of minibatch SGD and
// the test accuracy (hyperparameter_search.hpp). The network: dense layers with ReLU between
// them, linear logits, softmax cross entropy averaged over the batch.

#include <algorithm>
#include <chrono>
#include <cmath>

#include "stratus/ml/hyperparameter_search.hpp"
#include "stratus/ml/initialisers.hpp"
#include "stratus/ml/layers.hpp"
#include "stratus/ml/losses.hpp"
#include "stratus/ml/mlp_architecture.hpp"
#include "stratus/ml/optimisers.hpp"
#include "stratus/ml/worker_round.hpp"

namespace stratus::ml::hyperparameter_search {
namespace {

constexpr std::size_t kTestChunkRows = 1000;

[[noreturn]] void refuse(const std::string& message) {
  throw ProtocolError(std::string(kProtocol) + ": " + message);
}

// The widths from the input to the 10 logits.
std::vector<std::size_t> widths_of(const ModelState& model) {
  const auto widths = mlp_widths(model.architecture);
  if (!widths || widths->back() != kClasses)
    refuse("the model is not an mlp/1 network with 10 outputs");
  return {widths->begin(), widths->end()};
}

// Forward pass of `rows` rows; activations[l] holds layer l's output (activations[0] is not used:
// the input is `x`). Hidden outputs are after ReLU, the last one the logits.
void forward(const ModelState& model, const std::vector<std::size_t>& widths, const float* x,
             std::size_t rows, std::vector<std::vector<float>>& activations) {
  const std::size_t layers = widths.size() - 1;
  activations.resize(layers + 1);
  const float* input = x;
  for (std::size_t l = 1; l <= layers; ++l) {
    activations[l].resize(rows * widths[l]);
    dense_forward({rows, widths[l - 1], widths[l]}, input, model.tensors[2 * (l - 1)].values.data(),
                  model.tensors[2 * (l - 1) + 1].values.data(), activations[l].data());
    if (l < layers)
      relu_forward(activations[l].size(), activations[l].data(), activations[l].data());
    input = activations[l].data();
  }
}

}  // namespace

TrialData trial_data(const Shard& shard) {
  if (shard.features.shape.size() < 2) refuse("features must be [n, sample dims...]");
  if (shard.labels.dtype != DType::int32) refuse("labels must be int32 classes 0..9");
  TrialData data;
  data.rows = shard.count();
  std::uint64_t inputs = 1;
  for (std::size_t d = 1; d < shard.features.shape.size(); ++d) inputs *= shard.features.shape[d];
  if (inputs == 0 || inputs > kMlpMaxWidth) refuse("a sample must have 1..65536 values");
  data.inputs = static_cast<std::uint32_t>(inputs);
  const std::size_t n = static_cast<std::size_t>(data.rows * inputs);
  data.x.resize(n);
  if (shard.features.dtype == DType::uint8) {
    // The paper's scaling: (x - 127.5) / 255, pixels in [-0.5, 0.5].
    for (std::size_t i = 0; i < n; ++i)
      data.x[i] = (static_cast<float>(shard.features.u8[i]) - 127.5f) / 255.0f;
  } else if (shard.features.dtype == DType::float32) {
    std::copy(shard.features.f32.begin(),
              shard.features.f32.begin() + static_cast<std::ptrdiff_t>(n), data.x.begin());
  } else {
    refuse("features must be uint8 images or float32");
  }
  data.y.assign(shard.labels.i32.begin(), shard.labels.i32.end());
  for (std::int32_t label : data.y) {
    if (label < 0 || label >= static_cast<std::int32_t>(kClasses))
      refuse("labels must be classes 0..9");
  }
  return data;
}

TrainingState initial_state(const TrialConfig& trial, std::uint32_t inputs) {
  TrainingState state;
  state.model.architecture = trial_architecture(trial, inputs);
  SplitMix64 random(trial.init_seed);
  NormalSampler normal(random);
  for (const TensorLayout& t : mlp_layout(state.model.architecture)) {
    NamedTensor tensor{std::string(t.name), t.shape, {}};
    std::uint64_t count = 1;
    for (std::uint64_t d : t.shape) count *= d;
    tensor.values.resize(static_cast<std::size_t>(count));
    if (t.shape.size() == 2) {
      fill_truncated_normal(tensor.values, normal, 0.0f,
                            static_cast<float>(1.0 / std::sqrt(static_cast<double>(t.shape[0]))));
    } else {
      fill_constant(tensor.values, 0.0f);
    }
    state.model.tensors.push_back(std::move(tensor));
  }
  validate_model(state.model);
  return state;
}

std::uint64_t train_segment(TrainingState& state, const TrialConfig& trial, const TrialData& train,
                            const std::function<bool()>& keep_going) {
  const std::vector<std::size_t> widths = widths_of(state.model);
  if (widths.front() != train.inputs) refuse("the network's inputs do not match the training data");
  const std::size_t bs = trial.batch_size;
  if (static_cast<std::uint64_t>(trial.batch_count) * bs > train.rows) {
    refuse("batch_count x batch_size exceeds the training rows");
  }
  const std::size_t layers = widths.size() - 1;
  const float lr = static_cast<float>(trial.learning_rate);
  std::vector<std::vector<float>> act;
  std::vector<float> dlogits(bs * kClasses), dy, dx;
  std::vector<std::vector<float>> grads(state.model.tensors.size());
  for (std::size_t i = 0; i < grads.size(); ++i)
    grads[i].resize(state.model.tensors[i].values.size());
  const float inverse_batch = 1.0f / static_cast<float>(bs);

  std::uint64_t trained = 0;
  while (state.epoch < trial.epochs) {
    if (trained > 0 && !keep_going()) break;
    const auto started = std::chrono::steady_clock::now();
    const std::size_t first = static_cast<std::size_t>(state.batch) * bs;
    const float* x = train.x.data() + first * train.inputs;
    forward(state.model, widths, x, bs, act);
    const double loss_sum = softmax_cross_entropy(bs, kClasses, act[layers].data(),
                                                  train.y.data() + first, dlogits.data());
    // TF's sparse_softmax_cross_entropy averages over the batch: so does its gradient.
    const double loss = loss_sum / static_cast<double>(bs);
    if (!std::isfinite(loss)) {
      throw TrainingDivergedError(
          "trial " + std::to_string(trial.trial) + ": the loss became " + std::to_string(loss) +
          " at epoch " + std::to_string(state.epoch) + ", batch " + std::to_string(state.batch));
    }
    for (float& g : dlogits) g *= inverse_batch;
    dy = dlogits;
    for (std::size_t l = layers; l >= 1; --l) {
      const float* input = l == 1 ? x : act[l - 1].data();
      const bool need_dx = l > 1;
      if (need_dx) dx.resize(bs * widths[l - 1]);
      dense_backward({bs, widths[l - 1], widths[l]}, input,
                     state.model.tensors[2 * (l - 1)].values.data(), dy.data(),
                     need_dx ? dx.data() : nullptr, grads[2 * (l - 1)].data(),
                     grads[2 * (l - 1) + 1].data());
      if (need_dx) {
        relu_backward(dx.size(), act[l - 1].data(), dx.data(), dx.data());
        dy.swap(dx);
      }
    }
    for (std::size_t i = 0; i < grads.size(); ++i)
      sgd_step(state.model.tensors[i].values, grads[i], lr);
    for (const NamedTensor& t : state.model.tensors) {
      for (float v : t.values) {
        if (!std::isfinite(v)) {
          throw TrainingDivergedError("trial " + std::to_string(trial.trial) +
                                      ": a weight became non-finite at epoch " +
                                      std::to_string(state.epoch));
        }
      }
    }
    state.epoch_loss_sum += loss;
    ++trained;
    if (++state.batch == trial.batch_count) {
      state.last_epoch_loss = state.epoch_loss_sum / static_cast<double>(trial.batch_count);
      state.epoch_loss_sum = 0;
      state.batch = 0;
      ++state.epoch;
    }
    state.train_ms +=
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count();
  }
  return trained;
}

TestScore test_accuracy(const ModelState& model, const TrialData& test) {
  const std::vector<std::size_t> widths = widths_of(model);
  if (widths.front() != test.inputs) refuse("the network's inputs do not match the test data");
  TestScore score;
  std::vector<std::vector<float>> act;
  for (std::uint64_t first = 0; first < test.rows; first += kTestChunkRows) {
    const std::size_t rows =
        static_cast<std::size_t>(std::min<std::uint64_t>(kTestChunkRows, test.rows - first));
    forward(model, widths, test.x.data() + first * test.inputs, rows, act);
    const std::vector<float>& logits = act.back();
    for (std::size_t r = 0; r < rows; ++r) {
      const float* row = logits.data() + r * kClasses;
      const auto best = static_cast<std::int32_t>(std::max_element(row, row + kClasses) - row);
      score.correct += best == test.y[first + r] ? 1 : 0;
    }
  }
  score.samples = test.rows;
  return score;
}

}  // namespace stratus::ml::hyperparameter_search
