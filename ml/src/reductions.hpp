#pragma once
// Row/column helpers with a fixed summation order: rows are visited in order and each column
// keeps its own running sum, so a compiler may vectorise across columns without changing any
// result (floating-point addition is never reassociated without -ffast-math).

#include <cstddef>

namespace stratus::ml::detail {

// out[c] = sum over r in order of m[r, c], m is [rows, cols] row-major.
inline void column_sums(std::size_t rows, std::size_t cols, const float* m, float* out) {
  for (std::size_t c = 0; c < cols; ++c) out[c] = 0.0f;
  for (std::size_t r = 0; r < rows; ++r) {
    const float* row = m + r * cols;
    for (std::size_t c = 0; c < cols; ++c) out[c] += row[c];
  }
}

// m[r, c] = v[c]: a bias broadcast that a GEMM then accumulates into.
inline void broadcast_rows(std::size_t rows, std::size_t cols, const float* v, float* m) {
  for (std::size_t r = 0; r < rows; ++r) {
    float* row = m + r * cols;
    for (std::size_t c = 0; c < cols; ++c) row[c] = v[c];
  }
}

// m[r, c] += v[c]
inline void add_row_vector(std::size_t rows, std::size_t cols, const float* v, float* m) {
  for (std::size_t r = 0; r < rows; ++r) {
    float* row = m + r * cols;
    for (std::size_t c = 0; c < cols; ++c) row[c] += v[c];
  }
}

}  // namespace stratus::ml::detail
