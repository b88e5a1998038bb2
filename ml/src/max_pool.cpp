// Max-pool with TF's SAME semantics: output ceil(in/stride), padding total
// max((out-1)*stride + window - in, 0) split floor/ceil before/after; padded cells never win.

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "stratus/ml/layers.hpp"

namespace stratus::ml {
namespace {

std::ptrdiff_t pad_before(std::size_t in, std::size_t out, std::size_t window, std::size_t stride) {
  const auto needed =
      static_cast<std::ptrdiff_t>((out - 1) * stride + window) - static_cast<std::ptrdiff_t>(in);
  return std::max<std::ptrdiff_t>(needed, 0) / 2;
}

}  // namespace

void max_pool_forward(const PoolShape& s, const float* x, float* y, std::uint32_t* argmax) {
  if (s.batch * s.height * s.width * s.channels > std::numeric_limits<std::uint32_t>::max()) {
    throw std::invalid_argument("max_pool_forward: input too large for 32-bit argmax indices");
  }
  if (s.window == 0 || s.stride == 0) throw std::invalid_argument("max_pool_forward: empty window");
  const std::size_t OH = s.out_height(), OW = s.out_width(), C = s.channels;
  const std::ptrdiff_t pt = pad_before(s.height, OH, s.window, s.stride);
  const std::ptrdiff_t pl = pad_before(s.width, OW, s.window, s.stride);
  const auto H = static_cast<std::ptrdiff_t>(s.height), W = static_cast<std::ptrdiff_t>(s.width);
  for (std::size_t n = 0; n < s.batch; ++n) {
    const std::size_t image = n * s.height * s.width;
    for (std::size_t oh = 0; oh < OH; ++oh) {
      const std::ptrdiff_t h0 = static_cast<std::ptrdiff_t>(oh * s.stride) - pt;
      const std::ptrdiff_t h_lo = std::max<std::ptrdiff_t>(h0, 0);
      const std::ptrdiff_t h_hi =
          std::min<std::ptrdiff_t>(h0 + static_cast<std::ptrdiff_t>(s.window), H);
      for (std::size_t ow = 0; ow < OW; ++ow) {
        const std::ptrdiff_t w0 = static_cast<std::ptrdiff_t>(ow * s.stride) - pl;
        const std::ptrdiff_t w_lo = std::max<std::ptrdiff_t>(w0, 0);
        const std::ptrdiff_t w_hi =
            std::min<std::ptrdiff_t>(w0 + static_cast<std::ptrdiff_t>(s.window), W);
        const std::size_t out = ((n * OH + oh) * OW + ow) * C;
        float* __restrict best = y + out;
        std::uint32_t* __restrict where = argmax + out;
        // The window's first valid cell starts the scan; later cells win only when greater.
        // Written as selects (not branches) over restrict pointers, so the channel loop vectorises.
        const auto first = static_cast<std::uint32_t>((image + h_lo * W + w_lo) * C);
        for (std::size_t c = 0; c < C; ++c) {
          best[c] = x[first + c];
          where[c] = first + static_cast<std::uint32_t>(c);
        }
        for (std::ptrdiff_t h = h_lo; h < h_hi; ++h) {
          for (std::ptrdiff_t w = w_lo; w < w_hi; ++w) {
            const auto base = static_cast<std::uint32_t>((image + h * W + w) * C);
            const float* __restrict cell = x + base;
            for (std::size_t c = 0; c < C; ++c) {
              const bool greater = cell[c] > best[c];
              best[c] = greater ? cell[c] : best[c];
              where[c] = greater ? base + static_cast<std::uint32_t>(c) : where[c];
            }
          }
        }
      }
    }
  }
}

void max_pool_backward(const PoolShape& s, const float* dy, const std::uint32_t* argmax,
                       float* dx) {
  std::fill_n(dx, s.batch * s.height * s.width * s.channels, 0.0f);
  const std::size_t outputs = s.batch * s.out_height() * s.out_width() * s.channels;
  for (std::size_t o = 0; o < outputs; ++o) dx[argmax[o]] += dy[o];
}

}  // namespace stratus::ml
