// Initialisers' statistics and reproducibility; optimiser steps against TF's update rules.

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "stratus/ml/initialisers.hpp"
#include "stratus/ml/optimisers.hpp"

namespace stratus::ml {
namespace {

struct Moments {
  double mean = 0, stddev = 0, max_abs_dev = 0;
};

Moments moments(const std::vector<float>& v, double centre) {
  Moments m;
  for (float x : v) m.mean += x;
  m.mean /= static_cast<double>(v.size());
  for (float x : v) {
    m.stddev += (x - m.mean) * (x - m.mean);
    m.max_abs_dev = std::max(m.max_abs_dev, std::abs(x - centre));
  }
  m.stddev = std::sqrt(m.stddev / static_cast<double>(v.size()));
  return m;
}

constexpr std::size_t kDraws = 1 << 20;

TEST(Initialisers, NormalHasItsMeanStddevAndTails) {
  SplitMix64 r(1);
  NormalSampler n(r);
  std::vector<float> v(kDraws);
  fill_normal(v, n, 0.5f, 2.0f);
  const Moments m = moments(v, 0.5);
  // Standard errors: 2/sqrt(2^20) ~ 0.002 for the mean, ~0.0014 for the stddev.
  EXPECT_NEAR(m.mean, 0.5, 0.01);
  EXPECT_NEAR(m.stddev, 2.0, 0.01);
  // A million normal draws reach beyond 4 sigma (P ~ 6e-5 each) but not beyond 7.
  EXPECT_GT(m.max_abs_dev, 4 * 2.0);
  EXPECT_LT(m.max_abs_dev, 7 * 2.0);
  std::size_t within_one = 0;
  for (float x : v) within_one += std::abs(x - 0.5f) < 2.0f;
  EXPECT_NEAR(static_cast<double>(within_one) / kDraws, 0.6827, 0.003);
}

TEST(Initialisers, TruncatedNormalStaysWithinTwoStddev) {
  SplitMix64 r(2);
  NormalSampler n(r);
  std::vector<float> v(kDraws);
  fill_truncated_normal(v, n, -1.0f, 0.05f);
  const Moments m = moments(v, -1.0);
  EXPECT_LE(m.max_abs_dev, 2 * 0.05 * (1 + 1e-6));
  EXPECT_NEAR(m.mean, -1.0, 0.001);
  // The stddev of a normal truncated at +/-2 sigma is 0.8796 sigma.
  EXPECT_NEAR(m.stddev, 0.8796 * 0.05, 0.001);
}

TEST(Initialisers, ConstantAndSameSeedSameBytes) {
  std::vector<float> c(100);
  fill_constant(c, 0.1f);
  for (float x : c) EXPECT_EQ(x, 0.1f);
  auto draw = [](std::uint64_t seed) {
    SplitMix64 r(seed);
    NormalSampler n(r);
    std::vector<float> v(10000);
    fill_normal(v, n, 0.0f, 1.0f);
    std::vector<float> t(10000);
    fill_truncated_normal(t, n, 0.0f, 1.0f);
    v.insert(v.end(), t.begin(), t.end());
    return v;
  };
  const auto a = draw(7), b = draw(7), c2 = draw(8);
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0);
  EXPECT_NE(std::memcmp(a.data(), c2.data(), a.size() * 4), 0);
}

TEST(Initialisers, PolarPairsComeOutInOrder) {
  // The sampler's definition, written out: u, v uniform in (-1, 1), s = u^2+v^2 accepted in
  // (0, 1), then u*f and v*f with f = sqrt(-2 ln s / s) (libm's log here, Eigen's in the
  // sampler: they agree to a few ulp).
  SplitMix64 expected_rng(3), rng(3);
  NormalSampler n(rng);
  for (int pair = 0; pair < 1000; ++pair) {
    double u, v, s;
    do {
      u = 2.0 * expected_rng.uniform01() - 1.0;
      v = 2.0 * expected_rng.uniform01() - 1.0;
      s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    const double f = std::sqrt(-2.0 * std::log(s) / s);
    EXPECT_NEAR(n.next(), u * f, 1e-12 * std::max(1.0, std::abs(u * f)));
    EXPECT_NEAR(n.next(), v * f, 1e-12 * std::max(1.0, std::abs(v * f)));
  }
}

TEST(Optimisers, SgdMomentumAdamFollowTheirRules) {
  std::vector<float> p{1.0f, -2.0f}, g{0.5f, 0.25f};
  sgd_step(p, g, 0.1f);
  EXPECT_EQ(p[0], 1.0f - 0.1f * 0.5f);
  EXPECT_EQ(p[1], -2.0f - 0.1f * 0.25f);

  std::vector<float> q{1.0f}, vel{0.0f};
  const std::vector<float> gq{2.0f};
  momentum_step(q, gq, vel, 0.1f, 0.9f);  // v = 2, q = 1 - 0.2
  EXPECT_FLOAT_EQ(vel[0], 2.0f);
  EXPECT_FLOAT_EQ(q[0], 0.8f);
  momentum_step(q, gq, vel, 0.1f, 0.9f);  // v = 3.8, q = 0.8 - 0.38
  EXPECT_FLOAT_EQ(vel[0], 3.8f);
  EXPECT_FLOAT_EQ(q[0], 0.42f);

  // Adam, first step: m = 0.1 g, v = 0.001 g^2, lr_t = lr sqrt(0.001)/0.1 -> step ~ lr * sign(g).
  std::vector<float> a{1.0f, 1.0f}, m(2, 0.0f), v(2, 0.0f);
  const std::vector<float> ga{3.0f, -0.5f};
  AdamParams ap;
  ap.learning_rate = 0.01f;
  adam_step(a, ga, m, v, 1, ap);
  EXPECT_NEAR(a[0], 1.0f - 0.01f, 1e-6);
  EXPECT_NEAR(a[1], 1.0f + 0.01f, 1e-6);
  EXPECT_FLOAT_EQ(m[0], 0.3f);
  EXPECT_NEAR(v[0], 0.009f, 2e-7);  // (1 - beta2) is rounded to float first, as in TF
  // Second step, recomputed from the definition in double.
  adam_step(a, ga, m, v, 2, ap);
  const double m2 = 0.9 * 0.3 + 0.1 * 3.0, v2 = 0.999 * 0.009 + 0.001 * 9.0;
  const double lr2 = 0.01 * std::sqrt(1 - 0.999 * 0.999) / (1 - 0.9 * 0.9);
  EXPECT_NEAR(a[0], (1.0 - 0.01) - lr2 * m2 / (std::sqrt(v2) + 1e-8), 1e-6);
  EXPECT_THROW(adam_step(a, ga, m, v, 0, ap), std::invalid_argument);
  std::vector<float> short_grad{1.0f};
  EXPECT_THROW(sgd_step(p, short_grad, 0.1f), std::invalid_argument);
}

}  // namespace
}  // namespace stratus::ml
