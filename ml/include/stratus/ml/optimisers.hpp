#pragma once
// Optimiser steps over one parameter tensor, TF's update rules, elementwise (no reductions).

#include <cstddef>
#include <cstdint>
#include <span>

namespace stratus::ml {

// param -= learning_rate * grad
void sgd_step(std::span<float> param, std::span<const float> grad, float learning_rate);

// TF MomentumOptimizer: velocity = momentum*velocity + grad; param -= learning_rate*velocity.
void momentum_step(std::span<float> param, std::span<const float> grad, std::span<float> velocity,
                   float learning_rate, float momentum);

// TF AdamOptimizer: with t the 1-based step,
//   lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
//   m = beta1*m + (1-beta1)*g;  v = beta2*v + (1-beta2)*g^2;  param -= lr_t * m / (sqrt(v) + eps)
struct AdamParams {
  float learning_rate = 0.001f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-8f;
};
void adam_step(std::span<float> param, std::span<const float> grad, std::span<float> m,
               std::span<float> v, std::uint64_t step, const AdamParams& p);

}  // namespace stratus::ml
