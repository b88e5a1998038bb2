// Dense layer: one GEMM each way.

#include "gemm.hpp"
#include "reductions.hpp"
#include "stratus/ml/layers.hpp"

namespace stratus::ml {

void dense_forward(const DenseShape& s, const float* x, const float* weight, const float* bias,
                   float* y) {
  // y starts as the bias and the GEMM accumulates into it: one pass over y instead of a
  // zeroing pass and a bias pass.
  detail::broadcast_rows(s.batch, s.out, bias, y);
  detail::gemm(false, false, s.batch, s.out, s.in, x, s.in, weight, s.out, y, s.out, true);
}

void dense_backward(const DenseShape& s, const float* x, const float* weight, const float* dy,
                    float* dx, float* dweight, float* dbias) {
  detail::gemm(true, false, s.in, s.out, s.batch, x, s.in, dy, s.out, dweight, s.out, false);
  detail::column_sums(s.batch, s.out, dy, dbias);
  if (dx != nullptr)
    detail::gemm(false, true, s.batch, s.in, s.out, dy, s.out, weight, s.out, dx, s.in, false);
}

}  // namespace stratus::ml
