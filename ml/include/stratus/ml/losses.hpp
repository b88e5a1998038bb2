#pragma once
// Losses summed over the batch (the CLOUD 2018 code minimises TF elementwise/per-example loss
// tensors, which `minimize` differentiates as their sum). Each returns the summed loss (in
// double, accumulated in sample order) and writes the gradient with respect to its input.

#include <cstddef>
#include <cstdint>

namespace stratus::ml {

// sum 0.5*(target-output)^2; doutput = output - target.
double squared_error(std::size_t n, const float* output, const float* target, float* doutput);

// Softmax cross entropy from logits [rows, classes] and labels in [0, classes):
// sum_r (logsumexp(z_r) - z_r[label_r]); dlogits = softmax(z) - onehot. `probabilities` (optional,
// rows*classes) receives softmax(z). Labels outside the range throw std::invalid_argument.
double softmax_cross_entropy(std::size_t rows, std::size_t classes, const float* logits,
                             const std::int32_t* labels, float* dlogits,
                             float* probabilities = nullptr);

// Logistic loss from logits and targets in {0, 1} (TF sigmoid_cross_entropy_with_logits):
// sum max(z,0) - z*t + log(1 + exp(-|z|)); dlogits = sigmoid(z) - t.
double logistic_loss(std::size_t n, const float* logits, const float* targets, float* dlogits);

}  // namespace stratus::ml
