#include "eigen.hpp"
// (eigen.hpp first.)
#include "gemm.hpp"

namespace stratus::ml::detail {
namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Stride = Eigen::OuterStride<>;
using ConstMap = Eigen::Map<const RowMatrix, Eigen::Unaligned, Stride>;
using MutableMap = Eigen::Map<RowMatrix, Eigen::Unaligned, Stride>;

// Fixed for every machine: Eigen derives its GEMM panel sizes (and so how each dot product is
// split into partial sums) from these. Any fixed values give determinism; these are the usual
// server Xeon's per-core L1d and L2 (Lambda's hosts) and an L3 share. On the 48K/2M development
// machine they ran the engine's GEMM shapes as fast as its own sizes (bench/RESULTS.md).
constexpr CacheSizes kPinned{32 * 1024, 1024 * 1024, 32 * 1024 * 1024};

}  // namespace

void pin_eigen_blocking() {
  static const bool pinned = [] {
    Eigen::setCpuCacheSizes(kPinned.l1, kPinned.l2, kPinned.l3);
    return true;
  }();
  (void)pinned;
}

CacheSizes pinned_cache_sizes() {
  return kPinned;
}

CacheSizes eigen_cache_sizes_in_use() {
  return {Eigen::l1CacheSize(), Eigen::l2CacheSize(), Eigen::l3CacheSize()};
}

void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, const float* a,
          std::size_t lda, const float* b, std::size_t ldb, float* c, std::size_t ldc,
          bool accumulate) {
  pin_eigen_blocking();
  const auto M = static_cast<Eigen::Index>(m), N = static_cast<Eigen::Index>(n),
             K = static_cast<Eigen::Index>(k);
  MutableMap C(c, M, N, Stride(static_cast<Eigen::Index>(ldc)));
  if (!accumulate) C.setZero();
  if (m == 0 || n == 0 || k == 0) return;
  const ConstMap A(a, trans_a ? K : M, trans_a ? M : K, Stride(static_cast<Eigen::Index>(lda)));
  const ConstMap B(b, trans_b ? N : K, trans_b ? K : N, Stride(static_cast<Eigen::Index>(ldb)));
  // C += op(A) op(B): one code path for = and += (the GEMM accumulates into C either way).
  if (!trans_a && !trans_b)
    C.noalias() += A * B;
  else if (trans_a && !trans_b)
    C.noalias() += A.transpose() * B;
  else if (!trans_a && trans_b)
    C.noalias() += A * B.transpose();
  else
    C.noalias() += A.transpose() * B.transpose();
}

}  // namespace stratus::ml::detail
