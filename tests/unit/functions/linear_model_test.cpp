#include "stratus/common/linear_model.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>

using namespace stratus;

namespace {

struct Problem {
  std::size_t rows = 0;
  std::size_t features = 0;
  std::vector<float> x;
  std::vector<float> y;
  std::vector<double> weights;
  double bias = 0.0;

  std::vector<double> x_f64() const { return {x.begin(), x.end()}; }
  std::vector<double> y_f64() const { return {y.begin(), y.end()}; }
};

Problem random_problem(std::size_t rows, std::size_t features, unsigned seed) {
  std::mt19937 random(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Problem p;
  p.rows = rows;
  p.features = features;
  p.x.resize(rows * features);
  p.y.resize(rows);
  p.weights.resize(features);
  for (float& v : p.x) v = normal(random);
  for (float& v : p.y) v = normal(random);
  for (double& w : p.weights) w = static_cast<double>(normal(random)) * 0.5;
  p.bias = 0.125;
  return p;
}

// Straightforward double loops, for comparison: same quantity, different summation order.
ShardGradient reference_gradient(const Problem& p, const std::vector<double>& weights,
                                 double bias) {
  ShardGradient result;
  result.gradient.assign(p.features, 0.0);
  result.rows = p.rows;
  for (std::size_t i = 0; i < p.rows; ++i) {
    double prediction = bias;
    for (std::size_t j = 0; j < p.features; ++j) {
      prediction += static_cast<double>(p.x[i * p.features + j]) * weights[j];
    }
    const double r = prediction - static_cast<double>(p.y[i]);
    for (std::size_t j = 0; j < p.features; ++j) {
      result.gradient[j] += r * static_cast<double>(p.x[i * p.features + j]);
    }
    result.bias_gradient += r;
    result.sse += r * r;
  }
  return result;
}

double half_sse(const Problem& p, const std::vector<double>& weights, double bias) {
  return 0.5 * linear_gradient(p.x, p.y, weights, bias).sse;
}

bool bit_identical(const ShardGradient& a, const ShardGradient& b) {
  return a.rows == b.rows && a.gradient.size() == b.gradient.size() &&
         std::memcmp(a.gradient.data(), b.gradient.data(), a.gradient.size() * sizeof(double)) ==
             0 &&
         std::bit_cast<std::uint64_t>(a.bias_gradient) ==
             std::bit_cast<std::uint64_t>(b.bias_gradient) &&
         std::bit_cast<std::uint64_t>(a.sse) == std::bit_cast<std::uint64_t>(b.sse);
}

}  // namespace

TEST(LinearGradient, TinyHandComputedCase) {
  // r = x.w + b - y = [-2.25, -4.25, -6.25]; every step is exact in binary floating point.
  const std::vector<double> x = {1, 2, 3, 4, 5, 6};
  const std::vector<double> y = {1, 2, 3};
  const std::vector<double> w = {0.5, -1.0};
  const ShardGradient g = linear_gradient(x, y, w, 0.25);
  EXPECT_EQ(g.rows, 3u);
  ASSERT_EQ(g.gradient.size(), 2u);
  EXPECT_EQ(g.gradient[0], -2.25 * 1 - 4.25 * 3 - 6.25 * 5);  // -46.25
  EXPECT_EQ(g.gradient[1], -2.25 * 2 - 4.25 * 4 - 6.25 * 6);  // -59
  EXPECT_EQ(g.bias_gradient, -12.75);
  EXPECT_EQ(g.sse, 2.25 * 2.25 + 4.25 * 4.25 + 6.25 * 6.25);  // 62.1875
}

TEST(LinearGradient, MatchesFiniteDifferencesOfHalfTheSse) {
  // 1000 rows: several full 256-row blocks and a partial one.
  const Problem p = random_problem(1000, 7, 1);
  const ShardGradient g = linear_gradient(p.x, p.y, p.weights, p.bias);
  const double h = 1e-4;
  for (std::size_t j = 0; j < p.features; ++j) {
    std::vector<double> plus = p.weights;
    std::vector<double> minus = p.weights;
    plus[j] += h;
    minus[j] -= h;
    // The loss is quadratic, so central differences are exact up to rounding.
    const double numeric = (half_sse(p, plus, p.bias) - half_sse(p, minus, p.bias)) / (2 * h);
    EXPECT_NEAR(g.gradient[j], numeric, 1e-6 * std::max(1.0, std::abs(numeric))) << j;
  }
  const double numeric_bias =
      (half_sse(p, p.weights, p.bias + h) - half_sse(p, p.weights, p.bias - h)) / (2 * h);
  EXPECT_NEAR(g.bias_gradient, numeric_bias, 1e-6 * std::max(1.0, std::abs(numeric_bias)));
}

TEST(LinearGradient, AgreesWithPlainLoops) {
  const Problem p = random_problem(777, 33, 2);
  const ShardGradient g = linear_gradient(p.x, p.y, p.weights, p.bias);
  const ShardGradient expected = reference_gradient(p, p.weights, p.bias);
  EXPECT_EQ(g.rows, expected.rows);
  for (std::size_t j = 0; j < p.features; ++j) {
    EXPECT_NEAR(g.gradient[j], expected.gradient[j], 1e-10 * std::abs(expected.sse)) << j;
  }
  EXPECT_NEAR(g.bias_gradient, expected.bias_gradient, 1e-10 * expected.sse);
  EXPECT_NEAR(g.sse, expected.sse, 1e-12 * expected.sse);
}

TEST(LinearGradient, IsBitIdenticalAcrossRunsDtypesAndAlignments) {
  const Problem p = random_problem(1234, 17, 3);
  const ShardGradient first = linear_gradient(p.x, p.y, p.weights, p.bias);
  EXPECT_TRUE(bit_identical(first, linear_gradient(p.x, p.y, p.weights, p.bias)));

  // float32 data widened by the caller: what the JSON gradient handler computes on.
  const std::vector<double> x64 = p.x_f64();
  const std::vector<double> y64 = p.y_f64();
  EXPECT_TRUE(bit_identical(first, linear_gradient(x64, y64, p.weights, p.bias)));

  // The same values at other addresses (offset by one element, breaking 16-byte alignment).
  std::vector<double> x_shifted(x64.size() + 1);
  std::vector<double> y_shifted(y64.size() + 1);
  std::vector<double> w_shifted(p.weights.size() + 1);
  std::copy(x64.begin(), x64.end(), x_shifted.begin() + 1);
  std::copy(y64.begin(), y64.end(), y_shifted.begin() + 1);
  std::copy(p.weights.begin(), p.weights.end(), w_shifted.begin() + 1);
  EXPECT_TRUE(
      bit_identical(first, linear_gradient(std::span<const double>(x_shifted).subspan(1),
                                           std::span<const double>(y_shifted).subspan(1),
                                           std::span<const double>(w_shifted).subspan(1), p.bias)));
  std::vector<float> xf_shifted(p.x.size() + 1);
  std::copy(p.x.begin(), p.x.end(), xf_shifted.begin() + 1);
  EXPECT_TRUE(bit_identical(first, linear_gradient(std::span<const float>(xf_shifted).subspan(1),
                                                   p.y, p.weights, p.bias)));
}

TEST(LinearGradient, ShardSumsAddUpToTheFullBatch) {
  const Problem p = random_problem(600, 5, 4);
  const ShardGradient full = linear_gradient(p.x, p.y, p.weights, p.bias);
  const std::span<const float> x(p.x);
  const std::span<const float> y(p.y);
  const ShardGradient a = linear_gradient(x.first(250 * 5), y.first(250), p.weights, p.bias);
  const ShardGradient b = linear_gradient(x.subspan(250 * 5), y.subspan(250), p.weights, p.bias);
  EXPECT_EQ(a.rows + b.rows, full.rows);
  for (std::size_t j = 0; j < p.features; ++j) {
    EXPECT_NEAR(a.gradient[j] + b.gradient[j], full.gradient[j], 1e-9);
  }
  EXPECT_NEAR(a.sse + b.sse, full.sse, 1e-9);
}

TEST(LinearGradient, EdgeShapes) {
  const std::vector<double> none;
  const ShardGradient empty = linear_gradient(none, none, std::vector<double>{1.0, 2.0}, 0.5);
  EXPECT_EQ(empty.rows, 0u);
  EXPECT_EQ(empty.gradient, (std::vector<double>{0.0, 0.0}));
  EXPECT_EQ(empty.sse, 0.0);

  // No features: a bias-only model.
  const ShardGradient bias_only = linear_gradient(none, std::vector<double>{1.0, 3.0}, none, 0.0);
  EXPECT_EQ(bias_only.bias_gradient, -4.0);
  EXPECT_EQ(bias_only.sse, 10.0);
}

TEST(LinearGradient, RefusesMismatchedShapes) {
  const std::vector<double> x(6);
  EXPECT_THROW(linear_gradient(x, std::vector<double>(4), std::vector<double>(2), 0.0),
               std::invalid_argument);
  EXPECT_THROW(linear_gradient(x, std::vector<double>(3), std::vector<double>(3), 0.0),
               std::invalid_argument);
}

TEST(LinearGradient, NonFiniteInputsMakeTheSseNonFinite) {
  Problem p = random_problem(300, 4, 5);
  p.weights[2] = 0.0;  // inf * 0 = NaN must still surface
  p.x[290 * 4 + 2] = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(std::isfinite(linear_gradient(p.x, p.y, p.weights, p.bias).sse));
  p = random_problem(300, 4, 5);
  p.y[7] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_FALSE(std::isfinite(linear_gradient(p.x, p.y, p.weights, p.bias).sse));
}
