// stratus-layer-parallel/1, the function's side: one forward or backward step of one slice of one
// layer, from and to the object store (see layer_parallel.hpp for the keys and the rules).

#include <cmath>
#include <string>
#include <vector>

#include "stratus/ml/layer_parallel.hpp"
#include "stratus/ml/layers.hpp"
#include "stratus/ml/losses.hpp"
#include "stratus/ml/optimisers.hpp"

namespace stratus::ml::layer_parallel {
namespace {

[[noreturn]] void refuse(const std::string& message) {
  throw ProtocolError(message);
}

// What the step works on, read once.
struct Slice {
  const RunConfig& config;
  StepId id;
  std::uint32_t in = 0;     // fan-in of the layer
  std::uint32_t first = 0;  // first neuron of the slice
  std::uint32_t k = 0;      // neurons in the slice
  std::uint32_t width = 0;  // neurons in the layer
  bool output = false;      // the last layer
  std::uint32_t rows = 0;   // B
};

Slice describe(const RunConfig& config, const StepId& id) {
  Slice s{config, id};
  s.in = config.widths[id.layer - 1];
  s.width = config.widths[id.layer];
  const auto [first, end] = config.slice_range(id.layer, id.slice);
  s.first = first;
  s.k = end - first;
  s.output = id.layer == config.layers();
  s.rows = config.batch_size;
  return s;
}

std::string get_required(ObjectStore& store, const RunConfig& c, const std::string& key) {
  auto bytes = store.get(c.bucket, key);
  if (!bytes) refuse("missing s3://" + c.bucket + "/" + key + " (has the previous step run?)");
  return std::move(*bytes);
}

void check_f32(const Tensor& t, std::initializer_list<std::uint64_t> shape,
               const std::string& what) {
  if (t.dtype != DType::float32 || t.shape != std::vector<std::uint64_t>(shape)) {
    refuse(what + " has the wrong dtype or shape");
  }
}

// Writes `bytes` unless the key already holds exactly them (a repeated delivery); different bytes
// there mean two different computations claimed the same key: refused, never replaced.
bool write_once(ObjectStore& store, const RunConfig& c, const std::string& key,
                const std::string& bytes) {
  if (auto existing = store.get(c.bucket, key)) {
    if (*existing == bytes) return true;
    refuse("conflict: s3://" + c.bucket + "/" + key +
           " already holds different bytes (was the run id reused with another configuration?)");
  }
  store.put(c.bucket, key, bytes);
  return false;
}

struct Params {
  Tensor weight, bias;
};

Params read_params_slice(ObjectStore& store, const Slice& s, std::uint32_t step) {
  const std::string key = params_key(s.config.run_id, step, s.id.layer, s.id.slice);
  auto frames = decode_frames(get_required(store, s.config, key), 2, key);
  check_f32(frames[0], {s.in, s.k}, key + " weight");
  check_f32(frames[1], {s.k}, key + " bias");
  return {std::move(frames[0]), std::move(frames[1])};
}

struct Batch {
  Tensor x, y;
};

Batch read_batch(ObjectStore& store, const Slice& s) {
  const std::string key = batch_key(s.config.run_id, s.id.step);
  auto frames = decode_frames(get_required(store, s.config, key), 2, key);
  check_f32(frames[0], {s.rows, s.config.widths[0]}, key + " x");
  check_f32(frames[1], {s.rows}, key + " y");
  for (float label : frames[1].f32) {
    if (label != 0.0f && label != 1.0f) refuse(key + ": labels must be 0 or 1");
  }
  return {std::move(frames[0]), std::move(frames[1])};
}

Tensor read_act(ObjectStore& store, const RunConfig& c, std::uint32_t step, std::uint32_t layer,
                std::uint32_t slice, std::uint32_t rows, std::uint32_t k) {
  const std::string key = act_key(c.run_id, step, layer, slice);
  auto frames = decode_frames(get_required(store, c, key), 1, key);
  check_f32(frames[0], {rows, k}, key);
  return std::move(frames[0]);
}

// The layer's input [B, in]: the batch's x for layer 1, else every slice of the layer below,
// columns side by side in slice order.
std::vector<float> read_input(ObjectStore& store, const Slice& s, const Batch* batch) {
  if (s.id.layer == 1) return batch->x.f32;
  const std::uint32_t below = s.id.layer - 1;
  std::vector<float> x(std::size_t{s.rows} * s.in);
  for (std::uint32_t j = 0; j < s.config.slices(below); ++j) {
    const auto [first, end] = s.config.slice_range(below, j);
    const Tensor part = read_act(store, s.config, s.id.step, below, j, s.rows, end - first);
    for (std::uint32_t r = 0; r < s.rows; ++r) {
      for (std::uint32_t c = first; c < end; ++c) {
        x[std::size_t{r} * s.in + c] = part.f32[std::size_t{r} * (end - first) + (c - first)];
      }
    }
  }
  return x;
}

double half_l2(const RunConfig& c, const std::vector<float>& weight) {
  double sum = 0;  // in index order
  for (float w : weight) sum += static_cast<double>(w) * static_cast<double>(w);
  return 0.5 * static_cast<double>(c.l2) * sum;
}

std::uint32_t count_correct(const std::vector<float>& logits, const std::vector<float>& labels) {
  std::uint32_t correct = 0;
  for (std::size_t i = 0; i < logits.size(); ++i) {
    correct += (logits[i] > 0.0f) == (labels[i] == 1.0f) ? 1 : 0;
  }
  return correct;
}

StepAnswer forward(ObjectStore& store, const Slice& s) {
  std::optional<Batch> batch;
  if (s.id.layer == 1 || s.output) batch = read_batch(store, s);
  const Params p = read_params_slice(store, s, s.id.step);
  const std::vector<float> x = read_input(store, s, batch ? &*batch : nullptr);
  std::vector<float> out(std::size_t{s.rows} * s.k);
  dense_forward({s.rows, s.in, s.k}, x.data(), p.weight.f32.data(), p.bias.f32.data(), out.data());
  if (!s.output) {
    if (s.config.hidden == Activation::Tanh) {
      tanh_forward(out.size(), out.data(), out.data());
    } else {
      relu_forward(out.size(), out.data(), out.data());
    }
  }
  StepAnswer answer;
  answer.id = s.id;
  answer.run_id = s.config.run_id;
  answer.rows = s.rows;
  answer.l2 = half_l2(s.config, p.weight.f32);
  if (s.output) {
    std::vector<float> scratch(out.size());
    answer.loss = logistic_loss(out.size(), out.data(), batch->y.f32.data(), scratch.data());
    answer.correct = count_correct(out, batch->y.f32);
  }
  const std::string key = act_key(s.config.run_id, s.id.step, s.id.layer, s.id.slice);
  answer.replayed =
      write_once(store, s.config, key, encode_frames({Tensor::of_f32({s.rows, s.k}, out)}));
  return answer;
}

// dL/d(output of the slice) for a hidden layer: the layer above's input gradients summed over its
// slices in order, restricted to this slice's columns.
std::vector<float> upstream_gradient(ObjectStore& store, const Slice& s) {
  const std::uint32_t above = s.id.layer + 1;
  std::vector<float> sum(std::size_t{s.rows} * s.width, 0.0f);
  for (std::uint32_t j = 0; j < s.config.slices(above); ++j) {
    const std::string key = grad_key(s.config.run_id, s.id.step, above, j);
    auto frames = decode_frames(get_required(store, s.config, key), 1, key);
    check_f32(frames[0], {s.rows, s.width}, key);
    for (std::size_t i = 0; i < sum.size(); ++i) sum[i] += frames[0].f32[i];
  }
  std::vector<float> mine(std::size_t{s.rows} * s.k);
  for (std::uint32_t r = 0; r < s.rows; ++r) {
    for (std::uint32_t c = 0; c < s.k; ++c) {
      mine[std::size_t{r} * s.k + c] = sum[std::size_t{r} * s.width + s.first + c];
    }
  }
  return mine;
}

StepAnswer backward(ObjectStore& store, const Slice& s) {
  std::optional<Batch> batch;
  if (s.id.layer == 1 || s.output) batch = read_batch(store, s);
  Params p = read_params_slice(store, s, s.id.step);
  const std::vector<float> x = read_input(store, s, batch ? &*batch : nullptr);
  const Tensor out = read_act(store, s.config, s.id.step, s.id.layer, s.id.slice, s.rows, s.k);

  StepAnswer answer;
  answer.id = s.id;
  answer.run_id = s.config.run_id;
  answer.rows = s.rows;
  std::vector<float> dz(out.f32.size());
  if (s.output) {
    answer.loss = logistic_loss(dz.size(), out.f32.data(), batch->y.f32.data(), dz.data());
  } else {
    const std::vector<float> dy = upstream_gradient(store, s);
    if (s.config.hidden == Activation::Tanh) {
      tanh_backward(dz.size(), out.f32.data(), dy.data(), dz.data());
    } else {
      relu_backward(dz.size(), out.f32.data(), dy.data(), dz.data());
    }
  }
  std::vector<float> dx(s.id.layer > 1 ? std::size_t{s.rows} * s.in : 0);
  std::vector<float> dweight(std::size_t{s.in} * s.k), dbias(s.k);
  dense_backward({s.rows, s.in, s.k}, x.data(), p.weight.f32.data(), dz.data(),
                 s.id.layer > 1 ? dx.data() : nullptr, dweight.data(), dbias.data());
  // L2 on the weights (not the biases): d/dW 0.5*lambda*|W|^2 = lambda*W.
  if (s.config.l2 != 0.0f) {
    for (std::size_t i = 0; i < dweight.size(); ++i) dweight[i] += s.config.l2 * p.weight.f32[i];
  }

  const RunConfig& c = s.config;
  const std::uint32_t layer = s.id.layer, slice = s.id.slice, step = s.id.step;
  bool replayed = true;
  if (layer > 1) {
    replayed &= write_once(store, c, grad_key(c.run_id, step, layer, slice),
                           encode_frames({Tensor::of_f32({s.rows, s.in}, dx)}));
  }
  replayed &= write_once(
      store, c, wgrad_key(c.run_id, step, layer, slice),
      encode_frames({Tensor::of_f32({s.in, s.k}, dweight), Tensor::of_f32({s.k}, dbias)}));
  if (c.optimizer == Optimizer::Sgd) {
    sgd_step(p.weight.f32, dweight, c.learning_rate);
    sgd_step(p.bias.f32, dbias, c.learning_rate);
  } else {
    std::vector<Tensor> state;
    if (step == 0) {
      state = {Tensor::of_f32({s.in, s.k}, std::vector<float>(dweight.size(), 0.0f)),
               Tensor::of_f32({s.in, s.k}, std::vector<float>(dweight.size(), 0.0f)),
               Tensor::of_f32({s.k}, std::vector<float>(s.k, 0.0f)),
               Tensor::of_f32({s.k}, std::vector<float>(s.k, 0.0f))};
    } else {
      const std::string key = opt_key(c.run_id, step, layer, slice);
      state = decode_frames(get_required(store, c, key), 4, key);
      check_f32(state[0], {s.in, s.k}, key + " m(weight)");
      check_f32(state[1], {s.in, s.k}, key + " v(weight)");
      check_f32(state[2], {s.k}, key + " m(bias)");
      check_f32(state[3], {s.k}, key + " v(bias)");
    }
    const AdamParams adam{c.learning_rate, c.beta1, c.beta2, c.epsilon};
    adam_step(p.weight.f32, dweight, state[0].f32, state[1].f32, std::uint64_t{step} + 1, adam);
    adam_step(p.bias.f32, dbias, state[2].f32, state[3].f32, std::uint64_t{step} + 1, adam);
    replayed &=
        write_once(store, c, opt_key(c.run_id, step + 1, layer, slice), encode_frames(state));
  }
  replayed &= write_once(store, c, params_key(c.run_id, step + 1, layer, slice),
                         encode_frames({p.weight, p.bias}));
  answer.replayed = replayed;
  return answer;
}

}  // namespace

std::string serve(std::string_view body, ObjectStore& store) {
  const Request request = decode_request(body);
  const Slice slice = describe(request.config, request.id);
  try {
    const StepAnswer answer =
        request.id.direction == Direction::Forward ? forward(store, slice) : backward(store, slice);
    return encode_answer(answer);
  } catch (const std::invalid_argument& e) {
    if (dynamic_cast<const ProtocolError*>(&e)) throw;
    throw ProtocolError(e.what());  // a kernel's refusal (e.g. a label out of range)
  }
}

}  // namespace stratus::ml::layer_parallel
