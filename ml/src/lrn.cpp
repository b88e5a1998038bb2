// Local response normalisation across channels (TF's tf.nn.lrn). Channel sums run from the
// lowest channel of the window up; powers are exp(-beta*log(scale)) through Eigen's packets.

#include <algorithm>
#include <vector>

#include "stratus/ml/layers.hpp"
#include "vector_math.hpp"

namespace stratus::ml {
namespace {

// out[c] = sum_{j = max(0,c-r)}^{min(C-1,c+r)} v[j], summed in increasing j.
void window_sums(std::size_t channels, std::size_t r, const float* v, float* out) {
  for (std::size_t c = 0; c < channels; ++c) {
    const std::size_t lo = c >= r ? c - r : 0;
    const std::size_t hi = std::min(channels - 1, c + r);
    float acc = 0.0f;
    for (std::size_t j = lo; j <= hi; ++j) acc += v[j];
    out[c] = acc;
  }
}

}  // namespace

void lrn_forward(const LrnParams& p, std::size_t pixels, std::size_t channels, const float* x,
                 float* y, float* scale) {
  std::vector<float> squares(channels);
  for (std::size_t px = 0; px < pixels; ++px) {
    const float* xi = x + px * channels;
    float* si = scale + px * channels;
    for (std::size_t c = 0; c < channels; ++c) squares[c] = xi[c] * xi[c];
    window_sums(channels, p.depth_radius, squares.data(), si);
    for (std::size_t c = 0; c < channels; ++c) si[c] = p.bias + p.alpha * si[c];
  }
  const std::size_t n = pixels * channels;
  detail::vec_pow_neg(n, scale, p.beta, y);
  for (std::size_t i = 0; i < n; ++i) y[i] = x[i] * y[i];
}

void lrn_backward(const LrnParams& p, std::size_t pixels, std::size_t channels, const float* x,
                  const float* y, const float* scale, const float* dy, float* dx) {
  const std::size_t n = pixels * channels;
  // dx starts as scale^-beta (the diagonal term's factor).
  detail::vec_pow_neg(n, scale, p.beta, dx);
  std::vector<float> ratio(channels), sums(channels);
  const float factor = 2.0f * p.alpha * p.beta;
  for (std::size_t px = 0; px < pixels; ++px) {
    const std::size_t o = px * channels;
    for (std::size_t c = 0; c < channels; ++c) ratio[c] = dy[o + c] * y[o + c] / scale[o + c];
    window_sums(channels, p.depth_radius, ratio.data(), sums.data());
    for (std::size_t c = 0; c < channels; ++c)
      dx[o + c] = dy[o + c] * dx[o + c] - factor * x[o + c] * sums[c];
  }
}

}  // namespace stratus::ml
