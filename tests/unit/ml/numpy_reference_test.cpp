// Every layer, loss and both CLOUD 2018 networks against the independent float64 numpy
// implementation in tests/ml_reference/make_reference.py (fixtures generated at build time).

#include <gtest/gtest.h>

#include "reference_fixtures.hpp"
#include "stratus/ml/architectures.hpp"
#include "stratus/ml/layers.hpp"
#include "stratus/ml/losses.hpp"
#include "stratus/ml/worker_round.hpp"

namespace stratus::ml {
namespace {

using testing::expect_close;
using testing::fixtures;

constexpr double kRtol = 1e-4;  // float32 arithmetic against float64
constexpr double kAtol = 1e-5;  // relative to the largest expected magnitude

TEST(NumpyReference, Dense) {
  const auto& f = fixtures();
  const auto x = f["dense.x"].f32(), w = f["dense.w"].f32(), b = f["dense.b"].f32(),
             dy = f["dense.dy"].f32();
  const DenseShape s{4, 5, 3};
  std::vector<float> y(12), dx(20), dw(15), db(3);
  dense_forward(s, x.data(), w.data(), b.data(), y.data());
  dense_backward(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data());
  expect_close(y, f["dense.y"].values, kRtol, kAtol, "y");
  expect_close(dx, f["dense.dx"].values, kRtol, kAtol, "dx");
  expect_close(dw, f["dense.dw"].values, kRtol, kAtol, "dw");
  expect_close(db, f["dense.db"].values, kRtol, kAtol, "db");
}

void conv_case(const std::string& tag) {
  const auto& f = fixtures();
  const auto& xs = f[tag + ".x"].shape;
  const auto& ws = f[tag + ".w"].shape;
  const Conv2dShape s{xs[0], xs[1], xs[2], xs[3], ws[3], ws[0], ws[1]};
  const auto x = f[tag + ".x"].f32(), w = f[tag + ".w"].f32(), b = f[tag + ".b"].f32(),
             dy = f[tag + ".dy"].f32();
  std::vector<float> y(s.batch * s.height * s.width * s.out), scratch(conv2d_scratch_floats(s)),
      dx(x.size()), dw(w.size()), db(b.size());
  conv2d_forward(s, x.data(), w.data(), b.data(), y.data(), scratch.data());
  conv2d_backward(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data(),
                  scratch.data());
  expect_close(y, f[tag + ".y"].values, kRtol, kAtol, tag + " y");
  expect_close(dx, f[tag + ".dx"].values, kRtol, kAtol, tag + " dx");
  expect_close(dw, f[tag + ".dw"].values, kRtol, kAtol, tag + " dw");
  expect_close(db, f[tag + ".db"].values, kRtol, kAtol, tag + " db");
}

TEST(NumpyReference, Conv2dSame5x5) {
  conv_case("conv5");
}
TEST(NumpyReference, Conv2dSame3x3) {
  conv_case("conv3");
}

void pool_case(const std::string& tag) {
  const auto& f = fixtures();
  const auto& xs = f[tag + ".x"].shape;
  const PoolShape s{xs[0], xs[1], xs[2], xs[3], 3, 2};
  const auto x = f[tag + ".x"].f32(), dy = f[tag + ".dy"].f32();
  ASSERT_EQ(f[tag + ".y"].shape[1], s.out_height());
  ASSERT_EQ(f[tag + ".y"].shape[2], s.out_width());
  std::vector<float> y(dy.size()), dx(x.size());
  std::vector<std::uint32_t> arg(dy.size());
  max_pool_forward(s, x.data(), y.data(), arg.data());
  max_pool_backward(s, dy.data(), arg.data(), dx.data());
  expect_close(y, f[tag + ".y"].values, 0, 0, tag + " y");  // a max is exact
  expect_close(dx, f[tag + ".dx"].values, kRtol, kAtol, tag + " dx");
}

TEST(NumpyReference, MaxPoolSameEvenInput) {
  pool_case("pool_even");
}
TEST(NumpyReference, MaxPoolSameOddInput) {
  pool_case("pool_odd");
}

void lrn_case(const std::string& tag) {
  const auto& f = fixtures();
  const auto& prm = f[tag + ".params"].values;
  const LrnParams p{static_cast<std::size_t>(prm[0]), static_cast<float>(prm[1]),
                    static_cast<float>(prm[2]), static_cast<float>(prm[3])};
  const auto& xs = f[tag + ".x"].shape;
  const std::size_t channels = xs.back(), pixels = f[tag + ".x"].values.size() / channels;
  const auto x = f[tag + ".x"].f32(), dy = f[tag + ".dy"].f32();
  std::vector<float> y(x.size()), scale(x.size()), dx(x.size());
  lrn_forward(p, pixels, channels, x.data(), y.data(), scale.data());
  lrn_backward(p, pixels, channels, x.data(), y.data(), scale.data(), dy.data(), dx.data());
  expect_close(y, f[tag + ".y"].values, kRtol, kAtol, tag + " y");
  expect_close(dx, f[tag + ".dx"].values, kRtol, kAtol, tag + " dx");
}

TEST(NumpyReference, LrnRadius4) {
  lrn_case("lrn4");
}
TEST(NumpyReference, LrnRadius1) {
  lrn_case("lrn1");
}

TEST(NumpyReference, Activations) {
  const auto& f = fixtures();
  const auto x = f["act.x"].f32(), dy = f["act.dy"].f32();
  const std::size_t n = x.size();
  std::vector<float> y(n), dx(n);
  tanh_forward(n, x.data(), y.data());
  tanh_backward(n, y.data(), dy.data(), dx.data());
  expect_close(y, f["tanh.y"].values, kRtol, kAtol, "tanh y");
  expect_close(dx, f["tanh.dx"].values, 1e-3, kAtol, "tanh dx");
  relu_forward(n, x.data(), y.data());
  relu_backward(n, x.data(), dy.data(), dx.data());
  expect_close(y, f["relu.y"].values, 0, 0, "relu y");
  expect_close(dx, f["relu.dx"].values, 0, 0, "relu dx");
  sigmoid_forward(n, x.data(), y.data());
  sigmoid_backward(n, y.data(), dy.data(), dx.data());
  expect_close(y, f["sigmoid.y"].values, kRtol, kAtol, "sigmoid y");
  expect_close(dx, f["sigmoid.dx"].values, 1e-3, kAtol, "sigmoid dx");
  const auto z = f["softmax.x"].f32(), dz = f["softmax.dy"].f32();
  std::vector<float> sy(z.size()), sdx(z.size());
  softmax_forward(4, 7, z.data(), sy.data());
  softmax_backward(4, 7, sy.data(), dz.data(), sdx.data());
  expect_close(sy, f["softmax.y"].values, kRtol, kAtol, "softmax y");
  expect_close(sdx, f["softmax.dx"].values, 1e-3, kAtol, "softmax dx");
}

TEST(NumpyReference, Losses) {
  const auto& f = fixtures();
  {
    const auto o = f["sqerr.o"].f32(), t = f["sqerr.t"].f32();
    std::vector<float> d(o.size());
    EXPECT_NEAR(squared_error(o.size(), o.data(), t.data(), d.data()), f["sqerr.loss"].values[0],
                1e-5 * f["sqerr.loss"].values[0]);
    expect_close(d, f["sqerr.do"].values, kRtol, kAtol, "sqerr grad");
  }
  {
    const auto z = f["xent.z"].f32();
    const auto labels = f["xent.labels"].i32();
    std::vector<float> d(z.size());
    EXPECT_NEAR(softmax_cross_entropy(5, 10, z.data(), labels.data(), d.data()),
                f["xent.loss"].values[0], 1e-5 * f["xent.loss"].values[0]);
    expect_close(d, f["xent.dz"].values, kRtol, kAtol, "xent grad");
  }
  {
    const auto z = f["logistic.z"].f32(), t = f["logistic.t"].f32();
    std::vector<float> d(z.size());
    EXPECT_NEAR(logistic_loss(z.size(), z.data(), t.data(), d.data()), f["logistic.loss"].values[0],
                1e-5 * f["logistic.loss"].values[0]);
    expect_close(d, f["logistic.dz"].values, kRtol, kAtol, "logistic grad");
  }
}

TEST(NumpyReference, CaseANetworkLossAndGradients) {
  const auto& f = fixtures();
  ModelState m = initial_model(kCaseA, 0);
  for (std::size_t i = 0; i < 12; ++i)
    m.tensors[i].values = f["casea.param" + std::to_string(i)].f32();
  Shard shard;
  shard.features = Tensor::of_f32({8, 20}, f["casea.x"].f32());
  shard.labels = Tensor::of_i32({8}, f["casea.y"].i32());
  RoundStats stats;
  const ModelState g = minibatch_gradients(m, shard, 0, 8, &stats);
  EXPECT_NEAR(stats.loss_sum, f["casea.loss"].values[0], 1e-4 * f["casea.loss"].values[0]);
  for (std::size_t i = 0; i < 12; ++i) {
    expect_close(g.tensors[i].values, f["casea.grad" + std::to_string(i)].values, 1e-3, 1e-4,
                 g.tensors[i].name);
  }
}

TEST(NumpyReference, CaseBNetworkLossAndGradients) {
  const auto& f = fixtures();
  ModelState m = initial_model(kCaseB, 0, Initialisation::Tutorial);
  for (std::size_t i = 0; i < 10; ++i)
    m.tensors[i].values = f["caseb.param" + std::to_string(i)].f32();
  Shard shard;
  const auto& images = f["caseb.images"].values;
  shard.features =
      Tensor::of_u8({2, 3, 32, 32}, std::vector<std::uint8_t>(images.begin(), images.end()));
  shard.labels = Tensor::of_i32({2}, f["caseb.labels"].i32());
  RoundStats stats;
  const ModelState g = minibatch_gradients(m, shard, 0, 2, &stats);
  EXPECT_NEAR(stats.loss_sum, f["caseb.loss"].values[0], 1e-4 * f["caseb.loss"].values[0]);
  for (std::size_t i = 0; i < 10; ++i) {
    expect_close(g.tensors[i].values, f["caseb.grad" + std::to_string(i)].values, 1e-3, 1e-4,
                 g.tensors[i].name);
  }
}

}  // namespace
}  // namespace stratus::ml
