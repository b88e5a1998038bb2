// TF's update rules, one element at a time (no reductions, so no order to fix). sqrt is IEEE
// correctly rounded, the beta powers are products, so nothing here calls libm's approximations.

#include "stratus/ml/optimisers.hpp"

#include <cmath>
#include <stdexcept>

namespace stratus::ml {
namespace {

void check_sizes(std::size_t a, std::size_t b, const char* what) {
  if (a != b) throw std::invalid_argument(std::string(what) + ": tensor sizes differ");
}

}  // namespace

void sgd_step(std::span<float> param, std::span<const float> grad, float learning_rate) {
  check_sizes(param.size(), grad.size(), "sgd_step");
  for (std::size_t i = 0; i < param.size(); ++i) param[i] -= learning_rate * grad[i];
}

void momentum_step(std::span<float> param, std::span<const float> grad, std::span<float> velocity,
                   float learning_rate, float momentum) {
  check_sizes(param.size(), grad.size(), "momentum_step");
  check_sizes(param.size(), velocity.size(), "momentum_step");
  for (std::size_t i = 0; i < param.size(); ++i) {
    velocity[i] = momentum * velocity[i] + grad[i];
    param[i] -= learning_rate * velocity[i];
  }
}

void adam_step(std::span<float> param, std::span<const float> grad, std::span<float> m,
               std::span<float> v, std::uint64_t step, const AdamParams& p) {
  check_sizes(param.size(), grad.size(), "adam_step");
  check_sizes(param.size(), m.size(), "adam_step");
  check_sizes(param.size(), v.size(), "adam_step");
  if (step == 0) throw std::invalid_argument("adam_step: step counts from 1");
  double beta1_power = 1, beta2_power = 1;
  for (std::uint64_t t = 0; t < step; ++t) {
    beta1_power *= static_cast<double>(p.beta1);
    beta2_power *= static_cast<double>(p.beta2);
  }
  const auto lr_t = static_cast<float>(static_cast<double>(p.learning_rate) *
                                       std::sqrt(1.0 - beta2_power) / (1.0 - beta1_power));
  for (std::size_t i = 0; i < param.size(); ++i) {
    const float g = grad[i];
    m[i] = p.beta1 * m[i] + (1.0f - p.beta1) * g;
    v[i] = p.beta2 * v[i] + (1.0f - p.beta2) * g * g;
    param[i] -= lr_t * m[i] / (std::sqrt(v[i]) + p.epsilon);
  }
}

}  // namespace stratus::ml
