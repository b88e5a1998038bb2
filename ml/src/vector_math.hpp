#pragma once
// Elementwise transcendental functions for the kernels, without libm: Eigen's vectorised
// implementations (its own code, compiled into stratus_ml at x86-64-v3), applied in fixed chunks
// of 8 floats (one AVX packet; the tail is padded into a local chunk). Eigen falls back to the
// scalar std:: functions only for the leftovers of a vector it cannot fill with packets, and the
// fixed chunks make sure there are none. Results thus depend on neither the buffer's address nor
// its length nor the C library.

#include <cstddef>

namespace stratus::ml::detail {

void vec_tanh(std::size_t n, const float* x, float* y);
void vec_exp(std::size_t n, const float* x, float* y);
void vec_log(std::size_t n, const float* x, float* y);
// y = x^-p for x > 0, as exp(-p*log(x)).
void vec_pow_neg(std::size_t n, const float* x, float p, float* y);
// log for doubles (Packet4d chunks), used by the normal sampler.
void vec_log_f64(std::size_t n, const double* x, double* y);

// One row's softmax, y = exp(x - max) / sum, shifted by the row's max so exp cannot overflow.
// Returns the max and the sum, which softmax cross-entropy needs for log(sum) - (x[label] - max).
// The activation and the loss share it so their probabilities are the same bits.
struct SoftmaxRow {
  float top;
  float sum;
};
SoftmaxRow softmax_row(std::size_t cols, const float* x, float* y);

}  // namespace stratus::ml::detail
