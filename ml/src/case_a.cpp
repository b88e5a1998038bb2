// CLOUD 2018 Case A: 20-100-100-100-100-100-1, tanh after every layer (the output too), loss
// 0.5*(y-o)^2 summed over the minibatch, plain SGD.

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string>
#include <vector>

#include "networks.hpp"
#include "stratus/ml/layers.hpp"
#include "stratus/ml/losses.hpp"
#include "stratus/ml/optimisers.hpp"

namespace stratus::ml::detail {
namespace {

constexpr std::size_t kLayers = 6;
constexpr std::array<std::size_t, kLayers + 1> kWidths = {20, 100, 100, 100, 100, 100, 1};
constexpr std::size_t kEvaluationChunk = 1000;

void check_shard(const Shard& shard) {
  const Tensor& f = shard.features;
  const Tensor& l = shard.labels;
  if (f.dtype != DType::float32 || f.shape.size() != 2 || f.shape[1] != kWidths[0]) {
    throw std::invalid_argument("cloud2018-casea/1: features must be float32 [n,20]");
  }
  if (l.dtype != DType::int32 || l.shape.size() != 1 || l.shape[0] != f.shape[0]) {
    throw std::invalid_argument("cloud2018-casea/1: labels must be int32 [n] (n = feature rows)");
  }
  if (f.shape[0] == 0) throw std::invalid_argument("cloud2018-casea/1: the shard is empty");
  for (std::size_t i = 0; i < l.i32.size(); ++i) {
    if (l.i32[i] != -1 && l.i32[i] != 1) {
      throw std::invalid_argument("cloud2018-casea/1: label " + std::to_string(l.i32[i]) +
                                  " at row " + std::to_string(i) + " is not -1 or +1");
    }
  }
}

// Activations of one minibatch: a[0] is the input, a[l+1] = tanh(a[l] W_l + b_l).
struct Workspace {
  explicit Workspace(std::size_t batch) : batch(batch) {
    for (std::size_t l = 0; l <= kLayers; ++l) {
      a[l].resize(batch * kWidths[l]);
      d[l].resize(batch * kWidths[l]);
    }
    target.resize(batch);
    for (std::size_t l = 0; l < kLayers; ++l) {
      dweight[l].resize(kWidths[l] * kWidths[l + 1]);
      dbias[l].resize(kWidths[l + 1]);
    }
  }
  std::size_t batch;
  std::array<std::vector<float>, kLayers + 1> a, d;  // d[l]: gradient w.r.t. a[l]
  std::vector<float> target;
  std::array<std::vector<float>, kLayers> dweight, dbias;
};

const float* weight(const ModelState& m, std::size_t l) {
  return m.tensors[2 * l].values.data();
}
const float* bias(const ModelState& m, std::size_t l) {
  return m.tensors[2 * l + 1].values.data();
}

void load_rows(const Shard& shard, std::uint64_t first_batch, std::uint64_t batch_size,
               std::size_t count, Workspace& ws) {
  const std::uint64_t rows = shard.count();
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint64_t r = round_row(first_batch, batch_size, i, rows);
    std::copy_n(shard.features.f32.data() + r * kWidths[0], kWidths[0],
                ws.a[0].data() + i * kWidths[0]);
    ws.target[i] = static_cast<float>(shard.labels.i32[r]);
  }
}

void forward(const ModelState& m, std::size_t rows, Workspace& ws) {
  for (std::size_t l = 0; l < kLayers; ++l) {
    const DenseShape s{rows, kWidths[l], kWidths[l + 1]};
    dense_forward(s, ws.a[l].data(), weight(m, l), bias(m, l), ws.a[l + 1].data());
    tanh_forward(rows * kWidths[l + 1], ws.a[l + 1].data(), ws.a[l + 1].data());
  }
}

std::uint64_t count_correct(std::size_t rows, const Workspace& ws) {
  std::uint64_t correct = 0;
  for (std::size_t i = 0; i < rows; ++i) {
    const float o = ws.a[kLayers][i];
    // TF's sign(o) == y: an output of exactly 0 matches neither label.
    if ((o > 0 && ws.target[i] > 0) || (o < 0 && ws.target[i] < 0)) ++correct;
  }
  return correct;
}

// One minibatch: forward, loss, backward into ws.dweight/ws.dbias; returns its stats.
RoundStats minibatch(const ModelState& m, const Shard& shard, std::uint64_t b,
                     std::uint32_t batch_size, Workspace& ws) {
  RoundStats stats;
  load_rows(shard, b, batch_size, batch_size, ws);
  forward(m, batch_size, ws);
  stats.loss_sum =
      squared_error(batch_size, ws.a[kLayers].data(), ws.target.data(), ws.d[kLayers].data());
  stats.correct = count_correct(batch_size, ws);
  stats.samples = batch_size;
  for (std::size_t l = kLayers; l-- > 0;) {
    const std::size_t n = batch_size * kWidths[l + 1];
    tanh_backward(n, ws.a[l + 1].data(), ws.d[l + 1].data(), ws.d[l + 1].data());
    const DenseShape s{batch_size, kWidths[l], kWidths[l + 1]};
    dense_backward(s, ws.a[l].data(), weight(m, l), ws.d[l + 1].data(),
                   l > 0 ? ws.d[l].data() : nullptr, ws.dweight[l].data(), ws.dbias[l].data());
  }
  return stats;
}

void check_batch_size(std::uint32_t batch_size) {
  if (batch_size == 0) throw std::invalid_argument("cloud2018-casea/1: batch_size is 0");
}

}  // namespace

RoundStats train_case_a(ModelState& model, const Shard& shard, std::uint32_t batches,
                        std::uint32_t batch_size, float learning_rate) {
  check_shard(shard);
  check_batch_size(batch_size);
  ModelState& work = model;  // the caller's scratch copy (worker_round.cpp)
  Workspace ws(batch_size);
  RoundStats stats;
  for (std::uint32_t b = 0; b < batches; ++b) {
    const RoundStats s = minibatch(work, shard, b, batch_size, ws);
    stats.loss_sum += s.loss_sum;
    stats.correct += s.correct;
    stats.samples += s.samples;
    for (std::size_t l = 0; l < kLayers; ++l) {
      sgd_step(work.tensors[2 * l].values, ws.dweight[l], learning_rate);
      sgd_step(work.tensors[2 * l + 1].values, ws.dbias[l], learning_rate);
    }
  }
  return stats;
}

ModelState gradients_case_a(const ModelState& model, const Shard& shard, std::uint64_t batch_index,
                            std::uint32_t batch_size, RoundStats& stats) {
  check_shard(shard);
  check_batch_size(batch_size);
  Workspace ws(batch_size);
  stats = minibatch(model, shard, batch_index, batch_size, ws);
  std::vector<std::vector<float>> grads;
  for (std::size_t l = 0; l < kLayers; ++l) {
    grads.push_back(std::move(ws.dweight[l]));
    grads.push_back(std::move(ws.dbias[l]));
  }
  return as_model(model, std::move(grads));
}

Evaluation evaluate_case_a(const ModelState& model, const Shard& shard) {
  check_shard(shard);
  const std::uint64_t rows = shard.count();
  Workspace ws(kEvaluationChunk);
  std::vector<float> scratch(kEvaluationChunk);
  double loss = 0;
  std::uint64_t correct = 0;
  for (std::uint64_t start = 0; start < rows; start += kEvaluationChunk) {
    const auto count =
        static_cast<std::size_t>(std::min<std::uint64_t>(kEvaluationChunk, rows - start));
    // Chunk c is "batch" c of size kEvaluationChunk: rows [start, start+count), no wrap.
    load_rows(shard, start / kEvaluationChunk, kEvaluationChunk, count, ws);
    forward(model, count, ws);
    loss += squared_error(count, ws.a[kLayers].data(), ws.target.data(), scratch.data());
    correct += count_correct(count, ws);
  }
  Evaluation e;
  e.samples = rows;
  e.loss = loss / static_cast<double>(rows);
  e.accuracy = static_cast<double>(correct) / static_cast<double>(rows);
  return e;
}

}  // namespace stratus::ml::detail
