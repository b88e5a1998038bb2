// stratus-layer-parallel/1, the driver's side: the initial network, and a whole network in and
// out of its per-slice objects.

#include <cmath>

#include "stratus/ml/initialisers.hpp"
#include "stratus/ml/layer_parallel.hpp"
#include "stratus/ml/mlp_architecture.hpp"
#include "stratus/ml/split_mix64.hpp"

namespace stratus::ml::layer_parallel {
namespace {

ModelState empty_network(const RunConfig& c) {
  ModelState model;
  model.architecture = mlp_architecture(c.widths);
  for (const TensorLayout& t : mlp_layout(model.architecture)) {
    std::uint64_t n = 1;
    for (std::uint64_t d : t.shape) n *= d;
    model.tensors.push_back({std::string(t.name), t.shape, std::vector<float>(n)});
  }
  return model;
}

// Columns [first, end) of a row-major [rows, cols] matrix.
std::vector<float> columns(const std::vector<float>& m, std::uint64_t rows, std::uint64_t cols,
                           std::uint32_t first, std::uint32_t end) {
  std::vector<float> out;
  out.reserve(rows * (end - first));
  for (std::uint64_t r = 0; r < rows; ++r) {
    for (std::uint32_t c = first; c < end; ++c) out.push_back(m[r * cols + c]);
  }
  return out;
}

void put_columns(std::vector<float>& m, std::uint64_t rows, std::uint64_t cols, std::uint32_t first,
                 std::uint32_t end, const std::vector<float>& part) {
  const std::uint32_t k = end - first;
  for (std::uint64_t r = 0; r < rows; ++r) {
    for (std::uint32_t c = first; c < end; ++c) m[r * cols + c] = part[r * k + (c - first)];
  }
}

// Reads every slice's `what` object (2 frames: weight-like [in,k], bias-like [k]) into a model.
ModelState gather(ObjectStore& store, const RunConfig& c, std::uint32_t step,
                  std::string (*key_of)(std::string_view, std::uint32_t, std::uint32_t,
                                        std::uint32_t)) {
  validate(c);
  ModelState model = empty_network(c);
  for (std::uint32_t layer = 1; layer <= c.layers(); ++layer) {
    const std::uint64_t in = c.widths[layer - 1], width = c.widths[layer];
    for (std::uint32_t j = 0; j < c.slices(layer); ++j) {
      const auto [first, end] = c.slice_range(layer, j);
      const std::string key = key_of(c.run_id, step, layer, j);
      auto bytes = store.get(c.bucket, key);
      if (!bytes) throw ProtocolError("missing s3://" + c.bucket + "/" + key);
      auto frames = decode_frames(*bytes, 2, key);
      const std::uint64_t k = end - first;
      if (frames[0].dtype != DType::float32 ||
          frames[0].shape != std::vector<std::uint64_t>{in, k} ||
          frames[1].dtype != DType::float32 || frames[1].shape != std::vector<std::uint64_t>{k}) {
        throw ProtocolError(key + " has the wrong shapes");
      }
      put_columns(model.tensors[2 * (layer - 1)].values, in, width, first, end, frames[0].f32);
      put_columns(model.tensors[2 * (layer - 1) + 1].values, 1, width, first, end, frames[1].f32);
    }
  }
  return model;
}

}  // namespace

ModelState initial_network(const RunConfig& config, std::uint64_t seed) {
  validate(config);
  ModelState model = empty_network(config);
  SplitMix64 random(seed);
  NormalSampler normal(random);
  for (std::size_t layer = 1; layer <= config.layers(); ++layer) {
    const double fan_in = config.widths[layer - 1];
    fill_truncated_normal(model.tensors[2 * (layer - 1)].values, normal, 0.0f,
                          static_cast<float>(1.0 / std::sqrt(fan_in)));
    fill_constant(model.tensors[2 * (layer - 1) + 1].values, 0.0f);
  }
  return model;
}

void write_params(ObjectStore& store, const RunConfig& c, std::uint32_t step,
                  const ModelState& network) {
  validate(c);
  validate_model(network);
  if (network.architecture != mlp_architecture(c.widths)) {
    throw ProtocolError("the network is a " + network.architecture + ", the run wants " +
                        mlp_architecture(c.widths));
  }
  for (std::uint32_t layer = 1; layer <= c.layers(); ++layer) {
    const std::uint64_t in = c.widths[layer - 1], width = c.widths[layer];
    for (std::uint32_t j = 0; j < c.slices(layer); ++j) {
      const auto [first, end] = c.slice_range(layer, j);
      const std::uint64_t k = end - first;
      const Tensor weight = Tensor::of_f32(
          {in, k}, columns(network.tensors[2 * (layer - 1)].values, in, width, first, end));
      const Tensor bias = Tensor::of_f32(
          {k}, columns(network.tensors[2 * (layer - 1) + 1].values, 1, width, first, end));
      store.put(c.bucket, params_key(c.run_id, step, layer, j), encode_frames({weight, bias}));
    }
  }
}

ModelState read_params(ObjectStore& store, const RunConfig& config, std::uint32_t step) {
  return gather(store, config, step, &params_key);
}

ModelState read_gradients(ObjectStore& store, const RunConfig& config, std::uint32_t step) {
  return gather(store, config, step, &wgrad_key);
}

void write_batch(ObjectStore& store, const RunConfig& c, std::uint32_t step,
                 const std::vector<float>& x, const std::vector<float>& y) {
  validate(c);
  const std::uint64_t n = y.size(), d = c.widths[0];
  if (n == 0 || x.size() != n * d)
    throw ProtocolError("the data must hold n x D features and n labels");
  std::vector<float> bx, by;
  bx.reserve(std::size_t{c.batch_size} * d);
  for (std::uint64_t i = 0; i < c.batch_size; ++i) {
    const std::uint64_t row = (std::uint64_t{step} * c.batch_size + i) % n;
    bx.insert(bx.end(), x.begin() + static_cast<std::ptrdiff_t>(row * d),
              x.begin() + static_cast<std::ptrdiff_t>((row + 1) * d));
    by.push_back(y[row]);
  }
  store.put(c.bucket, batch_key(c.run_id, step),
            encode_frames({Tensor::of_f32({c.batch_size, d}, std::move(bx)),
                           Tensor::of_f32({c.batch_size}, std::move(by))}));
}

}  // namespace stratus::ml::layer_parallel
