#include "eigen.hpp"
// (eigen.hpp first.)
#include <algorithm>

#include "vector_math.hpp"

namespace stratus::ml::detail {
namespace {

using Chunk = Eigen::Array<float, 8, 1>;
using ChunkMap = Eigen::Map<Chunk>;
using ConstChunkMap = Eigen::Map<const Chunk>;
using ChunkD = Eigen::Array<double, 4, 1>;

// Applies op(Map<const Chunk>) -> Chunk over n floats, 8 at a time; the tail goes through a
// padded local chunk (padding value 1, valid for every op here).
template <typename Op>
void chunked(std::size_t n, const float* x, float* y, Op op) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) ChunkMap(y + i) = op(ConstChunkMap(x + i));
  if (i < n) {
    Chunk in = Chunk::Ones();
    std::copy(x + i, x + n, in.data());
    const Chunk out = op(in);
    std::copy(out.data(), out.data() + (n - i), y + i);
  }
}

}  // namespace

void vec_tanh(std::size_t n, const float* x, float* y) {
  chunked(n, x, y, [](const auto& c) -> Chunk { return c.tanh(); });
}
void vec_exp(std::size_t n, const float* x, float* y) {
  chunked(n, x, y, [](const auto& c) -> Chunk { return c.exp(); });
}
void vec_log(std::size_t n, const float* x, float* y) {
  chunked(n, x, y, [](const auto& c) -> Chunk { return c.log(); });
}
void vec_pow_neg(std::size_t n, const float* x, float p, float* y) {
  chunked(n, x, y, [p](const auto& c) -> Chunk { return (c.log() * -p).exp(); });
}
void vec_log_f64(std::size_t n, const double* x, double* y) {
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) Eigen::Map<ChunkD>(y + i) = Eigen::Map<const ChunkD>(x + i).log();
  if (i < n) {
    ChunkD in = ChunkD::Ones();
    std::copy(x + i, x + n, in.data());
    const ChunkD out = in.log();
    std::copy(out.data(), out.data() + (n - i), y + i);
  }
}

SoftmaxRow softmax_row(std::size_t cols, const float* x, float* y) {
  float top = x[0];
  for (std::size_t c = 1; c < cols; ++c) top = x[c] > top ? x[c] : top;
  for (std::size_t c = 0; c < cols; ++c) y[c] = x[c] - top;
  vec_exp(cols, y, y);
  float sum = 0.0f;
  for (std::size_t c = 0; c < cols; ++c) sum += y[c];
  for (std::size_t c = 0; c < cols; ++c) y[c] /= sum;
  return {top, sum};
}

}  // namespace stratus::ml::detail
