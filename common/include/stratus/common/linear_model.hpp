#pragma once
// Linear regression math shared by the gradient functions, the trainer's local baseline and its
// in-process invoker: the gradient of one data shard.
//
// For rows x_i (features values each), targets y_i, weights w and bias b, with residuals
// r_i = x_i . w + b - y_i, the loss of a shard is L = 0.5 * sum_i r_i^2 and
//   dL/dw = sum_i r_i x_i,   dL/db = sum_i r_i,   sse = sum_i r_i^2.
// These are sums, not means: shards of different sizes add up to the full-batch gradient, and the
// caller divides by the total row count once.
//
// Determinism: for the same (rows, features) and the same values, the result is bit-identical on
// the same binary, whatever the input dtype (float32 is widened exactly to double), wherever the
// caller's arrays sit in memory and whichever CPU runs it. Rows are processed in blocks whose size
// depends on the feature count only; each block is first widened into the same aligned double
// scratch, and the Eigen kernels (matrix-vector products and reductions, single-threaded, built
// for the project's baseline instruction set) then see identical sizes and alignment, so they
// perform the same operations in the same order. Only the exact float -> double widening is
// dispatched by CPU features. A build with other SIMD flags (e.g. -mavx2 for the whole project)
// may round differently, because Eigen's packet width fixes the summation order.

#include <cstdint>
#include <span>
#include <vector>

namespace stratus {

struct ShardGradient {
  std::vector<double> gradient;  // dL/dw, one entry per feature
  double bias_gradient = 0.0;    // dL/db
  double sse = 0.0;              // sum of squared residuals (= 2 L)
  std::uint64_t rows = 0;
};

// x is rows x features, row-major, with rows = y.size() and features = weights.size(). Computed in
// double precision in one streaming pass over x. Throws std::invalid_argument when
// x.size() != rows * features. Non-finite inputs are not checked: any NaN or infinity in x or y
// makes the sse non-finite (it is a sum of squares, so nothing cancels), which callers that accept
// outside data test for instead of scanning the inputs.
ShardGradient linear_gradient(std::span<const float> x, std::span<const float> y,
                              std::span<const double> weights, double bias);
ShardGradient linear_gradient(std::span<const double> x, std::span<const double> y,
                              std::span<const double> weights, double bias);

}  // namespace stratus
