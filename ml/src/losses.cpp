// Summed losses and their gradients. Loss values are accumulated in double, in sample order;
// gradients are float32 like everything the optimiser sees.

#include "stratus/ml/losses.hpp"

#include <stdexcept>
#include <string>
#include <vector>

#include "vector_math.hpp"

namespace stratus::ml {

double squared_error(std::size_t n, const float* output, const float* target, float* doutput) {
  double loss = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const float diff = output[i] - target[i];
    doutput[i] = diff;
    loss += 0.5 * static_cast<double>(diff) * static_cast<double>(diff);
  }
  return loss;
}

double softmax_cross_entropy(std::size_t rows, std::size_t classes, const float* logits,
                             const std::int32_t* labels, float* dlogits, float* probabilities) {
  for (std::size_t r = 0; r < rows; ++r) {
    if (labels[r] < 0 || static_cast<std::size_t>(labels[r]) >= classes) {
      throw std::invalid_argument("softmax_cross_entropy: label " + std::to_string(labels[r]) +
                                  " of row " + std::to_string(r) + " is outside 0.." +
                                  std::to_string(classes - 1));
    }
  }
  double loss = 0;
  float log_sum = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    const float* z = logits + r * classes;
    float* d = dlogits + r * classes;
    auto [top, sum] = detail::softmax_row(classes, z, d);
    if (probabilities != nullptr) std::copy(d, d + classes, probabilities + r * classes);
    const auto label = static_cast<std::size_t>(labels[r]);
    detail::vec_log(1, &sum, &log_sum);
    // -log softmax(z)[label] = log(sum) - (z[label] - top)
    loss += static_cast<double>(log_sum) - static_cast<double>(z[label] - top);
    d[label] -= 1.0f;
  }
  return loss;
}

double logistic_loss(std::size_t n, const float* logits, const float* targets, float* dlogits) {
  std::vector<float> soft(n);
  for (std::size_t i = 0; i < n; ++i) soft[i] = logits[i] > 0 ? -logits[i] : logits[i];  // -|z|
  detail::vec_exp(n, soft.data(), soft.data());                                          // e^-|z|
  double loss = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const float e = soft[i];
    // sigmoid(z) from e = exp(-|z|) without overflow on either side.
    dlogits[i] = (logits[i] >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e)) - targets[i];
    soft[i] = 1.0f + e;
  }
  detail::vec_log(n, soft.data(), soft.data());  // log(1 + e^-|z|)
  for (std::size_t i = 0; i < n; ++i) {
    const float z = logits[i];
    loss += static_cast<double>((z > 0 ? z : 0.0f) - z * targets[i]) + static_cast<double>(soft[i]);
  }
  return loss;
}

}  // namespace stratus::ml
