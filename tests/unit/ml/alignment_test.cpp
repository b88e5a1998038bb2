// Every layer gives bit-identical results wherever its buffers start: inputs and outputs are
// placed at every float offset 0..15 (0..60 bytes past a 64-byte boundary) and compared with
// offset 0. This is what makes the engine's results independent of where malloc puts a model,
// a shard or a workspace.

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <memory>
#include <vector>

#include "stratus/ml/layers.hpp"
#include "stratus/ml/losses.hpp"
#include "stratus/ml/split_mix64.hpp"

namespace stratus::ml {
namespace {

// A float buffer whose data() starts `offset` floats after a 64-byte boundary.
class PlacedBuffer {
 public:
  PlacedBuffer(std::size_t n, std::size_t offset) : storage_(new float[n + offset + 32]), n_(n) {
    auto base = reinterpret_cast<std::uintptr_t>(storage_.get());
    const std::uintptr_t aligned = (base + 63) & ~std::uintptr_t{63};
    data_ = reinterpret_cast<float*>(aligned) + offset;
  }
  float* data() { return data_; }
  std::size_t size() const { return n_; }

 private:
  std::unique_ptr<float[]> storage_;
  float* data_;
  std::size_t n_;
};

std::vector<float> random_values(std::size_t n, std::uint64_t seed) {
  SplitMix64 r(seed);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(r.uniform(-2.0, 2.0));
  return v;
}

// run(inputs, outputs): inputs are filled from `in`, outputs compared bitwise across offsets.
using Kernel = std::function<void(std::vector<float*>&, std::vector<float*>&)>;

void expect_offset_independent(const std::vector<std::vector<float>>& in,
                               const std::vector<std::size_t>& out_sizes, const Kernel& run,
                               const char* what) {
  std::vector<std::vector<float>> reference;
  for (std::size_t offset = 0; offset < 16; ++offset) {
    std::vector<PlacedBuffer> ib, ob;
    std::vector<float*> ip, op;
    for (const auto& v : in) {
      ib.emplace_back(v.size(), offset);
      std::copy(v.begin(), v.end(), ib.back().data());
    }
    // Outputs at another offset than inputs, so the two vary independently.
    for (std::size_t n : out_sizes) ob.emplace_back(n, (offset * 5) % 16);
    for (auto& b : ib) ip.push_back(b.data());
    for (auto& b : ob) op.push_back(b.data());
    run(ip, op);
    for (std::size_t k = 0; k < ob.size(); ++k) {
      std::vector<float> got(ob[k].data(), ob[k].data() + out_sizes[k]);
      if (offset == 0) {
        reference.push_back(got);
      } else {
        EXPECT_EQ(std::memcmp(got.data(), reference[k].data(), got.size() * 4), 0)
            << what << ": output " << k << " differs at offset " << offset;
      }
    }
  }
}

TEST(AlignmentIndependence, DenseAndConv) {
  const DenseShape d{50, 100, 100};
  expect_offset_independent(
      {random_values(5000, 1), random_values(10000, 2), random_values(100, 3),
       random_values(5000, 4)},
      {5000, 5000, 10000, 100},
      [&](auto& i, auto& o) {
        dense_forward(d, i[0], i[1], i[2], o[0]);
        dense_backward(d, i[0], i[1], i[3], o[1], o[2], o[3]);
      },
      "dense");
  const Conv2dShape c{2, 8, 8, 16, 16, 5, 5};
  const std::size_t nx = 2 * 8 * 8 * 16, nw = 5 * 5 * 16 * 16;
  expect_offset_independent(
      {random_values(nx, 5), random_values(nw, 6), random_values(16, 7), random_values(nx, 8)},
      {nx, nx, nw, 16, conv2d_scratch_floats(c)},
      [&](auto& i, auto& o) {
        conv2d_forward(c, i[0], i[1], i[2], o[0], o[4]);
        conv2d_backward(c, i[0], i[1], i[3], o[1], o[2], o[3], o[4]);
      },
      "conv2d");
}

TEST(AlignmentIndependence, PoolLrnActivationsLosses) {
  const PoolShape p{2, 9, 8, 16, 3, 2};
  const std::size_t nx = 2 * 9 * 8 * 16, ny = 2 * 5 * 4 * 16;
  expect_offset_independent(
      {random_values(nx, 9), random_values(ny, 10)}, {ny, nx},
      [&](auto& i, auto& o) {
        std::vector<std::uint32_t> arg(ny);
        max_pool_forward(p, i[0], o[0], arg.data());
        max_pool_backward(p, i[1], arg.data(), o[1]);
      },
      "max-pool");
  const LrnParams l{4, 1.0f, 0.3f, 0.75f};
  const std::size_t n = 37 * 64;
  expect_offset_independent(
      {random_values(n, 11), random_values(n, 12)}, {n, n, n},
      [&](auto& i, auto& o) {
        lrn_forward(l, 37, 64, i[0], o[0], o[1]);
        lrn_backward(l, 37, 64, i[0], o[0], o[1], i[1], o[2]);
      },
      "lrn");
  const std::size_t m = 203;  // not a multiple of 8: the padded tail chunk is exercised
  expect_offset_independent(
      {random_values(m, 13), random_values(m, 14)}, {m, m, m, m, m},
      [&](auto& i, auto& o) {
        tanh_forward(m, i[0], o[0]);
        tanh_backward(m, o[0], i[1], o[1]);
        sigmoid_forward(m, i[0], o[2]);
        softmax_forward(7, 29, i[0], o[3]);
        softmax_backward(7, 29, o[3], i[1], o[4]);
      },
      "activations");
  std::vector<std::int32_t> labels(20);
  for (std::size_t r = 0; r < 20; ++r) labels[r] = static_cast<std::int32_t>(r % 10);
  expect_offset_independent(
      {random_values(200, 15), random_values(200, 16)}, {200, 200, 200, 3},
      [&](auto& i, auto& o) {
        const double a = softmax_cross_entropy(20, 10, i[0], labels.data(), o[0]);
        const double b = squared_error(200, i[0], i[1], o[1]);
        std::vector<float> t(200);
        for (std::size_t k = 0; k < 200; ++k) t[k] = i[1][k] > 0 ? 1.0f : 0.0f;
        const double c = logistic_loss(200, i[0], t.data(), o[2]);
        o[3][0] = static_cast<float>(a);
        o[3][1] = static_cast<float>(b);
        o[3][2] = static_cast<float>(c);
      },
      "losses");
}

}  // namespace
}  // namespace stratus::ml
