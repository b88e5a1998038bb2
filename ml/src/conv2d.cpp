// conv2d, SAME, stride 1, NHWC/HWIO, as im2col + Eigen GEMM. TF's SAME puts (k-1)/2 rows and
// columns of zeros before the input and the rest after.

#include <algorithm>

#include "gemm.hpp"
#include "reductions.hpp"
#include "stratus/ml/layers.hpp"

namespace stratus::ml {
namespace {

std::size_t patch_size(const Conv2dShape& s) {
  return s.kernel_h * s.kernel_w * s.in;
}
std::size_t rows(const Conv2dShape& s) {
  return s.batch * s.height * s.width;
}

// Row (n, h, w) of `columns` holds the input patch around (h, w) in [kh, kw, in] order, the
// order of the HWIO weight's rows, with zeros outside the image.
void im2col(const Conv2dShape& s, const float* x, float* columns) {
  const std::ptrdiff_t pad_top = static_cast<std::ptrdiff_t>((s.kernel_h - 1) / 2);
  const std::ptrdiff_t pad_left = static_cast<std::ptrdiff_t>((s.kernel_w - 1) / 2);
  const auto H = static_cast<std::ptrdiff_t>(s.height), W = static_cast<std::ptrdiff_t>(s.width);
  float* out = columns;
  for (std::size_t n = 0; n < s.batch; ++n) {
    const float* image = x + n * s.height * s.width * s.in;
    for (std::ptrdiff_t h = 0; h < H; ++h) {
      for (std::ptrdiff_t w = 0; w < W; ++w) {
        for (std::size_t i = 0; i < s.kernel_h; ++i) {
          const std::ptrdiff_t hi = h + static_cast<std::ptrdiff_t>(i) - pad_top;
          if (hi < 0 || hi >= H) {
            std::fill_n(out, s.kernel_w * s.in, 0.0f);
            out += s.kernel_w * s.in;
            continue;
          }
          for (std::size_t j = 0; j < s.kernel_w; ++j) {
            const std::ptrdiff_t wj = w + static_cast<std::ptrdiff_t>(j) - pad_left;
            if (wj < 0 || wj >= W) {
              std::fill_n(out, s.in, 0.0f);
            } else {
              std::copy_n(image + (hi * W + wj) * static_cast<std::ptrdiff_t>(s.in), s.in, out);
            }
            out += s.in;
          }
        }
      }
    }
  }
}

// The adjoint of im2col: dx is zeroed, then every patch entry is added back at its input
// position, rows in order.
void col2im(const Conv2dShape& s, const float* columns, float* dx) {
  const std::ptrdiff_t pad_top = static_cast<std::ptrdiff_t>((s.kernel_h - 1) / 2);
  const std::ptrdiff_t pad_left = static_cast<std::ptrdiff_t>((s.kernel_w - 1) / 2);
  const auto H = static_cast<std::ptrdiff_t>(s.height), W = static_cast<std::ptrdiff_t>(s.width);
  std::fill_n(dx, s.batch * s.height * s.width * s.in, 0.0f);
  const float* in = columns;
  for (std::size_t n = 0; n < s.batch; ++n) {
    float* image = dx + n * s.height * s.width * s.in;
    for (std::ptrdiff_t h = 0; h < H; ++h) {
      for (std::ptrdiff_t w = 0; w < W; ++w) {
        for (std::size_t i = 0; i < s.kernel_h; ++i) {
          const std::ptrdiff_t hi = h + static_cast<std::ptrdiff_t>(i) - pad_top;
          if (hi < 0 || hi >= H) {
            in += s.kernel_w * s.in;
            continue;
          }
          for (std::size_t j = 0; j < s.kernel_w; ++j) {
            const std::ptrdiff_t wj = w + static_cast<std::ptrdiff_t>(j) - pad_left;
            if (wj >= 0 && wj < W) {
              float* target = image + (hi * W + wj) * static_cast<std::ptrdiff_t>(s.in);
              for (std::size_t c = 0; c < s.in; ++c) target[c] += in[c];
            }
            in += s.in;
          }
        }
      }
    }
  }
}

}  // namespace

std::size_t conv2d_column_floats(const Conv2dShape& s) {
  return rows(s) * patch_size(s);
}

void conv2d_forward(const Conv2dShape& s, const float* x, const float* weight, const float* bias,
                    float* y, float* columns) {
  im2col(s, x, columns);
  const std::size_t k = patch_size(s);
  detail::gemm(false, false, rows(s), s.out, k, columns, k, weight, s.out, y, s.out, false);
  detail::add_row_vector(rows(s), s.out, bias, y);
}

void conv2d_backward(const Conv2dShape& s, const float* columns, const float* weight,
                     const float* dy, float* dx, float* dweight, float* dbias,
                     float* column_scratch) {
  const std::size_t k = patch_size(s);
  detail::gemm(true, false, k, s.out, rows(s), columns, k, dy, s.out, dweight, s.out, false);
  detail::column_sums(rows(s), s.out, dy, dbias);
  if (dx != nullptr) {
    detail::gemm(false, true, rows(s), k, s.out, dy, s.out, weight, s.out, column_scratch, k,
                 false);
    col2im(s, column_scratch, dx);
  }
}

}  // namespace stratus::ml
