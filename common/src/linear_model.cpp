#include "stratus/common/linear_model.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

namespace stratus {
namespace {

using Eigen::Index;
using RowMajorBlock = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// A block of rows is widened into a double scratch block that the two matrix-vector products then
// read from L1: about 24 KB of doubles (30 rows of 100 features), within 8..512 rows. The size
// depends on the feature count only, so it is the same for every call with the same shape.
constexpr Index kBlockDoubles = 3072;
constexpr Index kMinBlockRows = 8;
constexpr Index kMaxBlockRows = 512;

Index block_rows_for(Index features) {
  return std::clamp(kBlockDoubles / std::max<Index>(features, 1), kMinBlockRows, kMaxBlockRows);
}

// float -> double is exact, so it does not matter which instructions perform it: the AVX2 clone
// (picked at load time on CPUs that have it) only makes the conversion, the one step that is not
// Eigen's, fast enough to keep up with memory. The arithmetic stays in Eigen, built for the
// project's baseline instruction set, so results never depend on the CPU.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
void widen(const float* __restrict source, double* __restrict destination, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) destination[i] = static_cast<double>(source[i]);
}

void widen(const double* source, double* destination, std::size_t count) {
  std::memcpy(destination, source, count * sizeof(double));
}

template <typename Value>
ShardGradient shard_gradient(std::span<const Value> x, std::span<const Value> y,
                             std::span<const double> weights, double bias) {
  const auto rows = static_cast<Index>(y.size());
  const auto features = static_cast<Index>(weights.size());
  if (x.size() != y.size() * weights.size()) {
    throw std::invalid_argument("linear_gradient: x holds " + std::to_string(x.size()) +
                                " values, expected rows x features = " + std::to_string(y.size()) +
                                " x " + std::to_string(weights.size()));
  }

  // Owned, Eigen-aligned copies: the kernels below must not see the caller's alignment, which
  // would otherwise be free to change how Eigen splits its reductions (see the header).
  const Eigen::VectorXd w = Eigen::Map<const Eigen::VectorXd>(weights.data(), features);
  const Index block_rows = std::min(block_rows_for(features), rows);
  RowMajorBlock block(block_rows, features);
  Eigen::VectorXd targets(block_rows);
  Eigen::VectorXd residuals(block_rows);
  Eigen::VectorXd gradient = Eigen::VectorXd::Zero(features);
  double bias_gradient = 0.0;
  double sse = 0.0;

  for (Index first = 0; first < rows; first += block_rows) {
    const Index count = std::min(block_rows, rows - first);
    // The only read of x from memory; everything after works on the cached double block.
    widen(x.data() + first * features, block.data(), static_cast<std::size_t>(count * features));
    widen(y.data() + first, targets.data(), static_cast<std::size_t>(count));
    const auto x_block = block.topRows(count);
    auto r = residuals.head(count);
    r.noalias() = x_block * w;
    r.array() += bias - targets.head(count).array();
    gradient.noalias() += x_block.transpose() * r;
    bias_gradient += r.sum();
    sse += r.squaredNorm();
  }

  ShardGradient result;
  result.gradient.assign(gradient.data(), gradient.data() + features);
  result.bias_gradient = bias_gradient;
  result.sse = sse;
  result.rows = static_cast<std::uint64_t>(rows);
  return result;
}

}  // namespace

ShardGradient linear_gradient(std::span<const float> x, std::span<const float> y,
                              std::span<const double> weights, double bias) {
  return shard_gradient(x, y, weights, bias);
}

ShardGradient linear_gradient(std::span<const double> x, std::span<const double> y,
                              std::span<const double> weights, double bias) {
  return shard_gradient(x, y, weights, bias);
}

}  // namespace stratus
