// Elementwise activations and the row-wise softmax. Transcendentals go through vector_math
// (Eigen's packet code, never libm).

#include <vector>

#include "stratus/ml/layers.hpp"
#include "vector_math.hpp"

namespace stratus::ml {

void tanh_forward(std::size_t n, const float* x, float* y) {
  detail::vec_tanh(n, x, y);
}

void tanh_backward(std::size_t n, const float* y, const float* dy, float* dx) {
  for (std::size_t i = 0; i < n; ++i) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

void relu_forward(std::size_t n, const float* x, float* y) {
  for (std::size_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void relu_backward(std::size_t n, const float* x, const float* dy, float* dx) {
  for (std::size_t i = 0; i < n; ++i) dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
}

void sigmoid_forward(std::size_t n, const float* x, float* y) {
  for (std::size_t i = 0; i < n; ++i) y[i] = -x[i];
  detail::vec_exp(n, y, y);
  for (std::size_t i = 0; i < n; ++i) y[i] = 1.0f / (1.0f + y[i]);
}

void sigmoid_backward(std::size_t n, const float* y, const float* dy, float* dx) {
  for (std::size_t i = 0; i < n; ++i) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
}

void softmax_forward(std::size_t rows, std::size_t cols, const float* x, float* y) {
  for (std::size_t r = 0; r < rows; ++r) {
    detail::softmax_row(cols, x + r * cols, y + r * cols);
  }
}

void softmax_backward(std::size_t rows, std::size_t cols, const float* y, const float* dy,
                      float* dx) {
  for (std::size_t r = 0; r < rows; ++r) {
    const float* yr = y + r * cols;
    const float* dyr = dy + r * cols;
    float dot = 0.0f;
    for (std::size_t c = 0; c < cols; ++c) dot += dyr[c] * yr[c];
    float* dxr = dx + r * cols;
    for (std::size_t c = 0; c < cols; ++c) dxr[c] = yr[c] * (dyr[c] - dot);
  }
}

}  // namespace stratus::ml
