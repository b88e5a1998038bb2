#include "stratus/common/linear_model.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <stdexcept>
#include <string>

namespace stratus {
namespace {

using Eigen::Index;
using RowMajorBlock = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Rows per block: the double copy of a block (kBlockRows x features x 8 bytes) must stay in L2
// between the two matrix-vector products that reuse it, and blocks must be long enough that the
// per-block overhead is small. 256 x 100 features = 200 KB.
constexpr Index kBlockRows = 256;

template <typename Value>
ShardGradient shard_gradient(std::span<const Value> x, std::span<const Value> y,
                             std::span<const double> weights, double bias) {
  const auto rows = static_cast<Index>(y.size());
  const auto features = static_cast<Index>(weights.size());
  if (x.size() != y.size() * weights.size()) {
    throw std::invalid_argument("linear_gradient: x holds " + std::to_string(x.size()) +
                                " values, expected rows x features = " +
                                std::to_string(y.size()) + " x " +
                                std::to_string(weights.size()));
  }

  using ValueRows = Eigen::Matrix<Value, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using ValueVector = Eigen::Matrix<Value, Eigen::Dynamic, 1>;

  // Owned, Eigen-aligned copies: the kernels below must not see the caller's alignment, which
  // would otherwise be free to change how Eigen splits its reductions (see the header).
  const Eigen::VectorXd w = Eigen::Map<const Eigen::VectorXd>(weights.data(), features);
  RowMajorBlock block(std::min(kBlockRows, rows), features);
  Eigen::VectorXd residuals(std::min(kBlockRows, rows));
  Eigen::VectorXd gradient = Eigen::VectorXd::Zero(features);
  double bias_gradient = 0.0;
  double sse = 0.0;

  for (Index first = 0; first < rows; first += kBlockRows) {
    const Index count = std::min(kBlockRows, rows - first);
    auto x_block = block.topRows(count);
    auto r = residuals.head(count);
    // The only read of x from memory; everything after works on the cached double block.
    x_block = Eigen::Map<const ValueRows>(x.data() + first * features, count, features)
                  .template cast<double>();
    r.noalias() = x_block * w;
    r.array() += bias - Eigen::Map<const ValueVector>(y.data() + first, count)
                            .template cast<double>()
                            .array();
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
