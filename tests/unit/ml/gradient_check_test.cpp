// Every layer and loss against central finite differences. The layers compute in float32; the
// objective sum_i w_i * y_i and the difference quotients are formed in double, with a step large
// enough for float32 rounding (~1e-7 relative) to stay well below the tolerance.

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "stratus/ml/layers.hpp"
#include "stratus/ml/losses.hpp"
#include "stratus/ml/split_mix64.hpp"

namespace stratus::ml {
namespace {

std::vector<float> random_vector(std::size_t n, std::uint64_t seed, double scale = 1.0) {
  SplitMix64 r(seed);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(r.uniform(-scale, scale));
  return v;
}

// f maps the input to an output vector; the objective is sum_i weights[i] * f(x)[i].
using Function = std::function<std::vector<float>(const std::vector<float>&)>;

double objective(const Function& f, const std::vector<float>& x,
                 const std::vector<float>& weights) {
  const std::vector<float> y = f(x);
  double sum = 0;
  for (std::size_t i = 0; i < y.size(); ++i) sum += static_cast<double>(weights[i]) * y[i];
  return sum;
}

// Compares `analytic` (d objective / d x from the layer's backward pass) with central
// differences at every input; skip(i) leaves out inputs sitting on a kink.
void check_gradient(const Function& f, const std::vector<float>& x,
                    const std::vector<float>& weights, const std::vector<float>& analytic,
                    double step, double tolerance, const std::string& what,
                    const std::function<bool(std::size_t)>& skip = nullptr) {
  ASSERT_EQ(analytic.size(), x.size()) << what;
  std::size_t checked = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (skip && skip(i)) continue;
    std::vector<float> plus = x, minus = x;
    plus[i] = static_cast<float>(x[i] + step);
    minus[i] = static_cast<float>(x[i] - step);
    const double h = static_cast<double>(plus[i]) - static_cast<double>(minus[i]);
    const double numeric = (objective(f, plus, weights) - objective(f, minus, weights)) / h;
    EXPECT_NEAR(analytic[i], numeric, tolerance * std::max(1.0, std::abs(numeric)))
        << what << " input " << i;
    ++checked;
  }
  EXPECT_GT(checked, x.size() / 2) << what;
}

TEST(GradientCheck, Dense) {
  const DenseShape s{3, 4, 5};
  const auto x = random_vector(12, 1), w = random_vector(20, 2), b = random_vector(5, 3),
             dy = random_vector(15, 4);
  std::vector<float> dx(12), dw(20), db(5);
  dense_backward(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data());
  auto run = [&](const std::vector<float>& xx, const std::vector<float>& ww,
                 const std::vector<float>& bb) {
    std::vector<float> y(15);
    dense_forward(s, xx.data(), ww.data(), bb.data(), y.data());
    return y;
  };
  check_gradient([&](const auto& v) { return run(v, w, b); }, x, dy, dx, 1e-2, 1e-3, "dense dx");
  check_gradient([&](const auto& v) { return run(x, v, b); }, w, dy, dw, 1e-2, 1e-3, "dense dw");
  check_gradient([&](const auto& v) { return run(x, w, v); }, b, dy, db, 1e-2, 1e-3, "dense db");
}

void conv_check(const Conv2dShape& s) {
  const std::size_t nx = s.batch * s.height * s.width * s.in;
  const std::size_t nw = s.kernel_h * s.kernel_w * s.in * s.out;
  const std::size_t ny = s.batch * s.height * s.width * s.out;
  const auto x = random_vector(nx, 5), w = random_vector(nw, 6, 0.5), b = random_vector(s.out, 7),
             dy = random_vector(ny, 8);
  std::vector<float> scratch(conv2d_scratch_floats(s)), y(ny), dx(nx), dw(nw), db(s.out);
  conv2d_forward(s, x.data(), w.data(), b.data(), y.data(), scratch.data());
  conv2d_backward(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data(),
                  scratch.data());
  auto run = [&](const std::vector<float>& xx, const std::vector<float>& ww,
                 const std::vector<float>& bb) {
    std::vector<float> out(ny), c(scratch.size());
    conv2d_forward(s, xx.data(), ww.data(), bb.data(), out.data(), c.data());
    return out;
  };
  const std::string tag = "conv" + std::to_string(s.kernel_h) + "x" + std::to_string(s.kernel_w);
  check_gradient([&](const auto& v) { return run(v, w, b); }, x, dy, dx, 1e-2, 2e-3, tag + " dx");
  check_gradient([&](const auto& v) { return run(x, v, b); }, w, dy, dw, 1e-2, 2e-3, tag + " dw");
  check_gradient([&](const auto& v) { return run(x, w, v); }, b, dy, db, 1e-2, 2e-3, tag + " db");
}

TEST(GradientCheck, Conv2dOddKernel) {
  conv_check({2, 4, 5, 3, 2, 5, 5});
}
TEST(GradientCheck, Conv2dEvenAndNonSquareKernel) {
  conv_check({1, 5, 4, 2, 3, 2, 3});
}

TEST(GradientCheck, MaxPoolSame) {
  for (const PoolShape s : {PoolShape{2, 6, 5, 3, 3, 2}, PoolShape{1, 7, 7, 2, 3, 2}}) {
    const std::size_t nx = s.batch * s.height * s.width * s.channels;
    const std::size_t ny = s.batch * s.out_height() * s.out_width() * s.channels;
    const auto x = random_vector(nx, 9), dy = random_vector(ny, 10);
    std::vector<float> y(ny), dx(nx);
    std::vector<std::uint32_t> arg(ny);
    max_pool_forward(s, x.data(), y.data(), arg.data());
    max_pool_backward(s, dy.data(), arg.data(), dx.data());
    check_gradient(
        [&](const std::vector<float>& v) {
          std::vector<float> out(ny);
          std::vector<std::uint32_t> a(ny);
          max_pool_forward(s, v.data(), out.data(), a.data());
          return out;
        },
        x, dy, dx, 1e-4, 1e-3, "max-pool dx");
  }
}

TEST(GradientCheck, Lrn) {
  for (const LrnParams p : {LrnParams{4, 1.0f, 0.2f, 0.75f}, LrnParams{2, 2.0f, 0.5f, 0.6f}}) {
    const std::size_t pixels = 3, channels = 11, n = pixels * channels;
    const auto x = random_vector(n, 11, 2.0), dy = random_vector(n, 12);
    std::vector<float> y(n), scale(n), dx(n);
    lrn_forward(p, pixels, channels, x.data(), y.data(), scale.data());
    lrn_backward(p, pixels, channels, x.data(), y.data(), scale.data(), dy.data(), dx.data());
    check_gradient(
        [&](const std::vector<float>& v) {
          std::vector<float> out(n), sc(n);
          lrn_forward(p, pixels, channels, v.data(), out.data(), sc.data());
          return out;
        },
        x, dy, dx, 1e-2, 2e-3, "lrn dx");
  }
}

TEST(GradientCheck, Activations) {
  const std::size_t n = 40;
  const auto x = random_vector(n, 13, 3.0), dy = random_vector(n, 14);
  std::vector<float> y(n), dx(n);
  tanh_forward(n, x.data(), y.data());
  tanh_backward(n, y.data(), dy.data(), dx.data());
  auto elementwise = [n](void (*f)(std::size_t, const float*, float*)) {
    return [n, f](const std::vector<float>& v) {
      std::vector<float> out(n);
      f(n, v.data(), out.data());
      return out;
    };
  };
  check_gradient(elementwise(tanh_forward), x, dy, dx, 1e-3, 2e-3, "tanh");
  sigmoid_forward(n, x.data(), y.data());
  sigmoid_backward(n, y.data(), dy.data(), dx.data());
  check_gradient(elementwise(sigmoid_forward), x, dy, dx, 1e-3, 2e-3, "sigmoid");
  relu_forward(n, x.data(), y.data());
  relu_backward(n, x.data(), dy.data(), dx.data());
  check_gradient(elementwise(relu_forward), x, dy, dx, 1e-3, 1e-3, "relu",
                 [&](std::size_t i) { return std::abs(x[i]) < 1e-2f; });
  const std::size_t rows = 4, cols = 6;
  const auto z = random_vector(rows * cols, 15, 3.0), dz = random_vector(rows * cols, 16);
  std::vector<float> sy(rows * cols), sdx(rows * cols);
  softmax_forward(rows, cols, z.data(), sy.data());
  softmax_backward(rows, cols, sy.data(), dz.data(), sdx.data());
  check_gradient(
      [&](const std::vector<float>& v) {
        std::vector<float> out(rows * cols);
        softmax_forward(rows, cols, v.data(), out.data());
        return out;
      },
      z, dz, sdx, 1e-3, 2e-3, "softmax");
}

// For a loss the objective is the loss itself (weight 1 on a one-element output).
Function loss_function(std::function<double(const std::vector<float>&)> loss) {
  return [loss](const std::vector<float>& v) {
    return std::vector<float>{static_cast<float>(loss(v))};
  };
}

TEST(GradientCheck, Losses) {
  const std::vector<float> one{1.0f};
  {
    const auto o = random_vector(7, 17), t = random_vector(7, 18);
    std::vector<float> d(7);
    squared_error(7, o.data(), t.data(), d.data());
    check_gradient(loss_function([&](const std::vector<float>& v) {
                     std::vector<float> g(7);
                     return squared_error(7, v.data(), t.data(), g.data());
                   }),
                   o, one, d, 1e-2, 2e-3, "squared error");
  }
  {
    const auto z = random_vector(30, 19, 3.0);
    const std::vector<std::int32_t> labels{0, 4, 9};
    std::vector<float> d(30);
    softmax_cross_entropy(3, 10, z.data(), labels.data(), d.data());
    check_gradient(loss_function([&](const std::vector<float>& v) {
                     std::vector<float> g(30);
                     return softmax_cross_entropy(3, 10, v.data(), labels.data(), g.data());
                   }),
                   z, one, d, 1e-2, 2e-3, "softmax cross entropy");
    const std::vector<std::int32_t> bad{0, 10, 1};
    EXPECT_THROW(softmax_cross_entropy(3, 10, z.data(), bad.data(), d.data()),
                 std::invalid_argument);
  }
  {
    const auto z = random_vector(9, 20, 6.0);
    const std::vector<float> t{0, 1, 1, 0, 1, 0, 0, 1, 1};
    std::vector<float> d(9);
    logistic_loss(9, z.data(), t.data(), d.data());
    check_gradient(loss_function([&](const std::vector<float>& v) {
                     std::vector<float> g(9);
                     return logistic_loss(9, v.data(), t.data(), g.data());
                   }),
                   z, one, d, 1e-2, 2e-3, "logistic loss");
    // Stable far out on both sides: no overflow, and the loss of a confident right answer is ~0.
    const std::vector<float> far{80.0f, -80.0f};
    const std::vector<float> right{1.0f, 0.0f};
    std::vector<float> g(2);
    EXPECT_NEAR(logistic_loss(2, far.data(), right.data(), g.data()), 0.0, 1e-6);
    EXPECT_NEAR(g[0], 0.0f, 1e-6);
    EXPECT_NEAR(g[1], 0.0f, 1e-6);
  }
}

}  // namespace
}  // namespace stratus::ml
