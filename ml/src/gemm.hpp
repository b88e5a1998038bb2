#pragma once
// The engine's only matrix product: Eigen's GEMM (GEMV for a single row or column) on row-major
// operands, with Eigen's cache sizes pinned once (pin_eigen_blocking) so its blocking, and so
// the order of every sum, is the same on every machine.

#include <cstddef>

namespace stratus::ml::detail {

// Eigen::setCpuCacheSizes with fixed values (docs/ML_ENGINE.md); idempotent, thread-safe. gemm
// calls it; it is public so tests and benchmarks can check the pinned values.
void pin_eigen_blocking();
struct CacheSizes {
  std::ptrdiff_t l1, l2, l3;
};
CacheSizes pinned_cache_sizes();        // the values pin_eigen_blocking sets
CacheSizes eigen_cache_sizes_in_use();  // what Eigen reports now

// C[m,n] = (accumulate ? C : 0) + op(A)[m,k] * op(B)[k,n]. Row-major with leading dimensions;
// op(A) = A ([m,k], lda) or, with trans_a, A^T where A is stored [k,m]; likewise for B.
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, const float* a,
          std::size_t lda, const float* b, std::size_t ldb, float* c, std::size_t ldc,
          bool accumulate);

}  // namespace stratus::ml::detail
