// CLOUD 2018 Case B (the TF CIFAR-10 tutorial network, NHWC):
//   conv 5x5x3->64 SAME + bias, ReLU, max-pool 3x3/2 SAME, LRN(4, 1, 0.001/9, 0.75)
//   conv 5x5x64->64 SAME + bias, ReLU, LRN, max-pool 3x3/2 SAME
//   flatten 8*8*64 -> FC 384 ReLU -> FC 192 ReLU -> FC 10; softmax cross entropy summed; SGD.

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "networks.hpp"
#include "stratus/ml/layers.hpp"
#include "stratus/ml/losses.hpp"
#include "stratus/ml/optimisers.hpp"

namespace stratus::ml::detail {
namespace {

constexpr std::size_t kSide = 32, kColours = 3, kMaps = 64, kClasses = 10;
constexpr std::size_t kPooled1 = 16, kPooled2 = 8, kFlat = kPooled2 * kPooled2 * kMaps;
constexpr std::size_t kFc1 = 384, kFc2 = 192;
constexpr std::size_t kEvaluationChunk = 100;
constexpr LrnParams kLrn{4, 1.0f, 0.001f / 9.0f, 0.75f};

void check_shard(const Shard& shard) {
  const Tensor& f = shard.features;
  const Tensor& l = shard.labels;
  if (f.dtype != DType::uint8 ||
      f.shape !=
          std::vector<std::uint64_t>{f.shape.empty() ? 0 : f.shape[0], kColours, kSide, kSide}) {
    throw std::invalid_argument("cloud2018-caseb/1: features must be uint8 [n,3,32,32]");
  }
  if (l.dtype != DType::int32 || l.shape.size() != 1 || l.shape[0] != f.shape[0]) {
    throw std::invalid_argument("cloud2018-caseb/1: labels must be int32 [n] (n = images)");
  }
  if (f.shape[0] == 0) throw std::invalid_argument("cloud2018-caseb/1: the shard is empty");
  for (std::size_t i = 0; i < l.i32.size(); ++i) {
    if (l.i32[i] < 0 || l.i32[i] >= static_cast<std::int32_t>(kClasses)) {
      throw std::invalid_argument("cloud2018-caseb/1: label " + std::to_string(l.i32[i]) +
                                  " at row " + std::to_string(i) + " is outside 0..9");
    }
  }
}

struct Params {
  explicit Params(const ModelState& m) {
    for (std::size_t i = 0; i < 10; ++i) t[i] = m.tensors[i].values.data();
  }
  const float* t[10];
  const float* conv1_w() const { return t[0]; }
  const float* conv1_b() const { return t[1]; }
  const float* conv2_w() const { return t[2]; }
  const float* conv2_b() const { return t[3]; }
  const float* fc_w(std::size_t i) const { return t[4 + 2 * i]; }
  const float* fc_b(std::size_t i) const { return t[5 + 2 * i]; }
};

struct Network {
  explicit Network(std::size_t batch)
      : batch(batch),
        conv1{batch, kSide, kSide, kColours, kMaps, 5, 5},
        conv2{batch, kPooled1, kPooled1, kMaps, kMaps, 5, 5},
        pool1{batch, kSide, kSide, kMaps, 3, 2},
        pool2{batch, kPooled1, kPooled1, kMaps, 3, 2},
        fc{DenseShape{batch, kFlat, kFc1}, DenseShape{batch, kFc1, kFc2},
           DenseShape{batch, kFc2, kClasses}} {
    const std::size_t big = batch * kSide * kSide * kMaps,
                      mid = batch * kPooled1 * kPooled1 * kMaps;
    x.resize(batch * kSide * kSide * kColours);
    scratch.resize(std::max(conv2d_scratch_floats(conv1), conv2d_scratch_floats(conv2)));
    a1.resize(big);
    p1.resize(mid);
    arg1.resize(mid);
    n1.resize(mid);
    s1.resize(mid);
    a2.resize(mid);
    n2.resize(mid);
    s2.resize(mid);
    p2.resize(batch * kFlat);
    arg2.resize(batch * kFlat);
    f1.resize(batch * kFc1);
    f2.resize(batch * kFc2);
    logits.resize(batch * kClasses);
    labels.resize(batch);
  }

  // CHW uint8 -> NHWC float in [0, 1] (pixel / 255, one IEEE division each).
  void load(const Shard& shard, std::uint64_t batch_index, std::uint64_t batch_size,
            std::size_t count) {
    const std::uint64_t rows = shard.count();
    const std::size_t plane = kSide * kSide, image = kColours * plane;
    for (std::size_t i = 0; i < count; ++i) {
      const std::uint64_t r = round_row(batch_index, batch_size, i, rows);
      const std::uint8_t* src = shard.features.u8.data() + r * image;
      float* dst = x.data() + i * image;
      for (std::size_t p = 0; p < plane; ++p) {
        for (std::size_t c = 0; c < kColours; ++c) {
          dst[p * kColours + c] = static_cast<float>(src[c * plane + p]) / 255.0f;
        }
      }
      labels[i] = shard.labels.i32[r];
    }
  }

  void forward(const Params& p) {
    conv2d_forward(conv1, x.data(), p.conv1_w(), p.conv1_b(), a1.data(), scratch.data());
    // ReLU then max-pool == max-pool then ReLU, bit for bit (ReLU is monotonic, and the first
    // maximum of a window is the same element either way whenever it is positive; otherwise the
    // gradient is 0 both ways), so the ReLU runs on the 4x smaller pooled tensor.
    max_pool_forward(pool1, a1.data(), p1.data(), arg1.data());
    relu_forward(p1.size(), p1.data(), p1.data());
    lrn_forward(kLrn, batch * kPooled1 * kPooled1, kMaps, p1.data(), n1.data(), s1.data());
    conv2d_forward(conv2, n1.data(), p.conv2_w(), p.conv2_b(), a2.data(), scratch.data());
    relu_forward(a2.size(), a2.data(), a2.data());
    lrn_forward(kLrn, batch * kPooled1 * kPooled1, kMaps, a2.data(), n2.data(), s2.data());
    max_pool_forward(pool2, n2.data(), p2.data(), arg2.data());
    dense_forward(fc[0], p2.data(), p.fc_w(0), p.fc_b(0), f1.data());
    relu_forward(f1.size(), f1.data(), f1.data());
    dense_forward(fc[1], f1.data(), p.fc_w(1), p.fc_b(1), f2.data());
    relu_forward(f2.size(), f2.data(), f2.data());
    dense_forward(fc[2], f2.data(), p.fc_w(2), p.fc_b(2), logits.data());
  }

  std::uint64_t count_correct(std::size_t count) const {
    std::uint64_t correct = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const float* z = logits.data() + i * kClasses;
      const auto best = static_cast<std::int32_t>(std::max_element(z, z + kClasses) - z);
      if (best == labels[i]) ++correct;
    }
    return correct;
  }

  std::size_t batch;
  Conv2dShape conv1, conv2;
  PoolShape pool1, pool2;
  DenseShape fc[3];
  std::vector<float> x, scratch, a1, p1, n1, s1, a2, n2, s2, p2, f1, f2, logits;
  std::vector<std::uint32_t> arg1, arg2;
  std::vector<std::int32_t> labels;
};

struct Gradients {
  explicit Gradients(const Network& net)
      : dlogits(net.logits.size()),
        df2(net.f2.size()),
        df1(net.f1.size()),
        dp2(net.p2.size()),
        dn2(net.n2.size()),
        da2(net.a2.size()),
        dn1(net.n1.size()),
        dp1(net.p1.size()),
        da1(net.a1.size()) {}
  std::vector<float> dlogits, df2, df1, dp2, dn2, da2, dn1, dp1, da1;
};

void backward(Network& net, const Params& p, Gradients& g, std::vector<std::vector<float>>& d) {
  dense_backward(net.fc[2], net.f2.data(), p.fc_w(2), g.dlogits.data(), g.df2.data(), d[8].data(),
                 d[9].data());
  relu_backward(g.df2.size(), net.f2.data(), g.df2.data(), g.df2.data());
  dense_backward(net.fc[1], net.f1.data(), p.fc_w(1), g.df2.data(), g.df1.data(), d[6].data(),
                 d[7].data());
  relu_backward(g.df1.size(), net.f1.data(), g.df1.data(), g.df1.data());
  dense_backward(net.fc[0], net.p2.data(), p.fc_w(0), g.df1.data(), g.dp2.data(), d[4].data(),
                 d[5].data());
  max_pool_backward(net.pool2, g.dp2.data(), net.arg2.data(), g.dn2.data());
  const std::size_t pixels = net.batch * kPooled1 * kPooled1;
  lrn_backward(kLrn, pixels, kMaps, net.a2.data(), net.n2.data(), net.s2.data(), g.dn2.data(),
               g.da2.data());
  relu_backward(g.da2.size(), net.a2.data(), g.da2.data(), g.da2.data());
  conv2d_backward(net.conv2, net.n1.data(), p.conv2_w(), g.da2.data(), g.dn1.data(), d[2].data(),
                  d[3].data(), net.scratch.data());
  lrn_backward(kLrn, pixels, kMaps, net.p1.data(), net.n1.data(), net.s1.data(), g.dn1.data(),
               g.dp1.data());
  relu_backward(g.dp1.size(), net.p1.data(), g.dp1.data(), g.dp1.data());
  max_pool_backward(net.pool1, g.dp1.data(), net.arg1.data(), g.da1.data());
  conv2d_backward(net.conv1, net.x.data(), p.conv1_w(), g.da1.data(), nullptr, d[0].data(),
                  d[1].data(), net.scratch.data());
}

// The per-round state: activations, their gradients, and one gradient vector per tensor.
struct Trainer {
  Trainer(const ModelState& model, std::uint32_t batch_size) : net(batch_size), g(net) {
    for (const NamedTensor& t : model.tensors) d.emplace_back(t.values.size());
  }
  // One minibatch: forward, loss, backward into d; returns its stats.
  RoundStats minibatch(const ModelState& m, const Shard& shard, std::uint64_t b) {
    const std::size_t batch_size = net.batch;
    net.load(shard, b, batch_size, batch_size);
    const Params p(m);
    net.forward(p);
    RoundStats stats;
    stats.loss_sum = softmax_cross_entropy(batch_size, kClasses, net.logits.data(),
                                           net.labels.data(), g.dlogits.data());
    stats.correct = net.count_correct(batch_size);
    stats.samples = batch_size;
    backward(net, p, g, d);
    return stats;
  }
  Network net;
  Gradients g;
  std::vector<std::vector<float>> d;
};

void check_batch_size(std::uint32_t batch_size) {
  if (batch_size == 0) throw std::invalid_argument("cloud2018-caseb/1: batch_size is 0");
}

// The calling thread's trainer for this batch size, kept between rounds: its ~35 MB of buffers
// would otherwise be page-faulted in again every round (a measurable share of a 2 s round).
// Every buffer is fully overwritten before it is read, so reuse cannot change a result. One per
// thread, freed with the thread.
Trainer& cached_trainer(const ModelState& model, std::uint32_t batch_size) {
  thread_local std::unique_ptr<Trainer> trainer;
  if (!trainer || trainer->net.batch != batch_size) {
    trainer.reset();
    trainer = std::make_unique<Trainer>(model, batch_size);
  }
  return *trainer;
}

}  // namespace

RoundStats train_case_b(ModelState& model, const Shard& shard, std::uint32_t batches,
                        std::uint32_t batch_size, float learning_rate) {
  check_shard(shard);
  check_batch_size(batch_size);
  ModelState& work = model;  // the caller's scratch copy (worker_round.cpp)
  Trainer& trainer = cached_trainer(work, batch_size);
  RoundStats stats;
  for (std::uint32_t b = 0; b < batches; ++b) {
    const RoundStats s = trainer.minibatch(work, shard, b);
    stats.loss_sum += s.loss_sum;
    stats.correct += s.correct;
    stats.samples += s.samples;
    for (std::size_t i = 0; i < work.tensors.size(); ++i) {
      sgd_step(work.tensors[i].values, trainer.d[i], learning_rate);
    }
  }
  return stats;
}

ModelState gradients_case_b(const ModelState& model, const Shard& shard, std::uint64_t batch_index,
                            std::uint32_t batch_size, RoundStats& stats) {
  check_shard(shard);
  check_batch_size(batch_size);
  Trainer& trainer = cached_trainer(model, batch_size);
  stats = trainer.minibatch(model, shard, batch_index);
  return as_model(model, trainer.d);
}

Evaluation evaluate_case_b(const ModelState& model, const Shard& shard) {
  check_shard(shard);
  const std::uint64_t rows = shard.count();
  Network net(kEvaluationChunk);
  std::vector<float> dlogits(net.logits.size());
  const Params p(model);
  double loss = 0;
  std::uint64_t correct = 0;
  for (std::uint64_t start = 0; start < rows; start += kEvaluationChunk) {
    const auto count =
        static_cast<std::size_t>(std::min<std::uint64_t>(kEvaluationChunk, rows - start));
    // A short last chunk runs padded with copies of row 0 (wrapped), which are not counted.
    net.load(shard, start / kEvaluationChunk, kEvaluationChunk, kEvaluationChunk);
    net.forward(p);
    loss += softmax_cross_entropy(count, kClasses, net.logits.data(), net.labels.data(),
                                  dlogits.data());
    correct += net.count_correct(count);
  }
  Evaluation e;
  e.samples = rows;
  e.loss = loss / static_cast<double>(rows);
  e.accuracy = static_cast<double>(correct) / static_cast<double>(rows);
  return e;
}

}  // namespace stratus::ml::detail

namespace stratus::ml::detail {

// The logits of every image of `shard` (labels unused but checked like evaluation's), chunk by
// chunk as evaluate_case_b runs them: the same bits as the evaluation sees.
std::vector<float> logits_case_b(const ModelState& model, const Shard& shard) {
  check_shard(shard);
  const std::uint64_t rows = shard.count();
  Network net(kEvaluationChunk);
  const Params p(model);
  std::vector<float> out;
  out.reserve(rows * kClasses);
  for (std::uint64_t start = 0; start < rows; start += kEvaluationChunk) {
    const auto count = static_cast<std::size_t>(std::min<std::uint64_t>(kEvaluationChunk, rows - start));
    net.load(shard, start / kEvaluationChunk, kEvaluationChunk, kEvaluationChunk);
    net.forward(p);
    out.insert(out.end(), net.logits.begin(), net.logits.begin() + static_cast<std::ptrdiff_t>(count * kClasses));
  }
  return out;
}

}  // namespace stratus::ml::detail
