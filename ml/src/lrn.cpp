// Local response normalisation across channels (TF's tf.nn.lrn). Channel sums run from the
// lowest channel of the window up (window_sums); powers are exp(-beta*log(scale)) through Eigen's
// packets, or square roots for beta = 0.75.

#include <algorithm>
#include <cmath>
#include <vector>

#include "stratus/ml/layers.hpp"
#include "vector_math.hpp"

namespace stratus::ml {
namespace {

// out[c] = sum_{j = c-r}^{c+r} v[j] over a copy of v with r zeros on each side (`padded`,
// channels + 2r long, zeros already in place), summed in increasing j. Adding the zeros is exact,
// so this is the plain windowed sum; the loop over c vectorises.
void window_sums(std::size_t channels, std::size_t r, float* padded, const float* v, float* out) {
  std::copy_n(v, channels, padded + r);
  std::copy_n(padded, channels, out);
  for (std::size_t d = 1; d <= 2 * r; ++d) {
    const float* shifted = padded + d;
    for (std::size_t c = 0; c < channels; ++c) out[c] += shifted[c];
  }
}

// out = scale^-beta. For the CLOUD 2018 beta of 0.75 that is 1/(sqrt(s)*sqrt(sqrt(s))): IEEE
// square roots are exact to the last bit and several times cheaper than exp(-beta*log(s)).
void inverse_power(float beta, std::size_t n, const float* scale, float* out) {
  if (beta == 0.75f) {
    for (std::size_t i = 0; i < n; ++i) {
      const float r = std::sqrt(scale[i]);
      out[i] = 1.0f / (r * std::sqrt(r));
    }
  } else {
    detail::vec_pow_neg(n, scale, beta, out);
  }
}

}  // namespace

void lrn_forward(const LrnParams& p, std::size_t pixels, std::size_t channels, const float* x,
                 float* y, float* scale) {
  std::vector<float> squares(channels), padded(channels + 2 * p.depth_radius, 0.0f);
  for (std::size_t px = 0; px < pixels; ++px) {
    const float* xi = x + px * channels;
    float* si = scale + px * channels;
    for (std::size_t c = 0; c < channels; ++c) squares[c] = xi[c] * xi[c];
    window_sums(channels, p.depth_radius, padded.data(), squares.data(), si);
    for (std::size_t c = 0; c < channels; ++c) si[c] = p.bias + p.alpha * si[c];
  }
  const std::size_t n = pixels * channels;
  inverse_power(p.beta, n, scale, y);
  for (std::size_t i = 0; i < n; ++i) y[i] = x[i] * y[i];
}

void lrn_backward(const LrnParams& p, std::size_t pixels, std::size_t channels, const float* x,
                  const float* y, const float* scale, const float* dy, float* dx) {
  const std::size_t n = pixels * channels;
  // dx starts as scale^-beta (the diagonal term's factor).
  inverse_power(p.beta, n, scale, dx);
  std::vector<float> ratio(channels), sums(channels), padded(channels + 2 * p.depth_radius, 0.0f);
  const float factor = 2.0f * p.alpha * p.beta;
  for (std::size_t px = 0; px < pixels; ++px) {
    const std::size_t o = px * channels;
    for (std::size_t c = 0; c < channels; ++c) ratio[c] = dy[o + c] * y[o + c] / scale[o + c];
    window_sums(channels, p.depth_radius, padded.data(), ratio.data(), sums.data());
    for (std::size_t c = 0; c < channels; ++c)
      dx[o + c] = dy[o + c] * dx[o + c] - factor * x[o + c] * sums[c];
  }
}

}  // namespace stratus::ml
