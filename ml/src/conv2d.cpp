// conv2d, SAME, stride 1, NHWC/HWIO, as im2col + Eigen GEMM. TF's SAME puts (k-1)/2 rows and
// columns of zeros before the input and the rest after.

#include <algorithm>
#include <vector>

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

// Row (h, w) of `columns` holds the patch of `image` ([height, width, channels]) around (h, w)
// in [kh, kw, channels] order (the order of an HWIO weight's rows), zeros outside the image;
// pad_top/pad_left rows and columns of zeros come before the image.
void im2col_image(std::size_t height, std::size_t width, std::size_t channels, std::size_t kh,
                  std::size_t kw, std::ptrdiff_t pad_top, std::ptrdiff_t pad_left,
                  const float* image, float* columns) {
  const auto H = static_cast<std::ptrdiff_t>(height), W = static_cast<std::ptrdiff_t>(width);
  const auto C = static_cast<std::ptrdiff_t>(channels);
  float* out = columns;
  for (std::ptrdiff_t h = 0; h < H; ++h) {
    for (std::ptrdiff_t w = 0; w < W; ++w) {
      for (std::size_t i = 0; i < kh; ++i) {
        const std::ptrdiff_t hi = h + static_cast<std::ptrdiff_t>(i) - pad_top;
        if (hi < 0 || hi >= H) {
          std::fill_n(out, kw * channels, 0.0f);
          out += kw * channels;
          continue;
        }
        // The valid columns of this kernel row are one contiguous run of the input row.
        const std::ptrdiff_t w_first = w - pad_left;
        const std::ptrdiff_t j_lo = std::max<std::ptrdiff_t>(0, -w_first);
        const std::ptrdiff_t j_hi =
            std::min<std::ptrdiff_t>(static_cast<std::ptrdiff_t>(kw), W - w_first);
        std::fill_n(out, j_lo * C, 0.0f);
        if (j_hi > j_lo) {
          std::copy_n(image + (hi * W + w_first + j_lo) * C, (j_hi - j_lo) * C, out + j_lo * C);
        }
        const std::ptrdiff_t tail = static_cast<std::ptrdiff_t>(kw) - std::max(j_hi, j_lo);
        std::fill_n(out + std::max(j_hi, j_lo) * C, tail * C, 0.0f);
        out += kw * channels;
      }
    }
  }
}

std::ptrdiff_t pad_top(const Conv2dShape& s) {
  return static_cast<std::ptrdiff_t>((s.kernel_h - 1) / 2);
}
std::ptrdiff_t pad_left(const Conv2dShape& s) {
  return static_cast<std::ptrdiff_t>((s.kernel_w - 1) / 2);
}

}  // namespace

// Images per chunk (about kChunkRows output pixels; one image for both Case B convolutions,
// the fastest setting measured): every GEMM runs over a chunk of whole images, whose columns are
// built just before (forward) or again (backward) in the same scratch, instead of one batch-wide
// im2col matrix (40 MB for Case B's second convolution) written to memory and read back.
std::size_t chunk_images(const Conv2dShape& s) {
  constexpr std::size_t kChunkRows = 256;
  const std::size_t pixels = s.height * s.width;
  return std::max<std::size_t>(1, std::min(s.batch, kChunkRows / std::max<std::size_t>(pixels, 1)));
}

std::size_t conv2d_scratch_floats(const Conv2dShape& s) {
  const std::size_t chunk_rows = chunk_images(s) * s.height * s.width;
  const std::size_t flipped_k = s.kernel_h * s.kernel_w * s.out;
  return chunk_rows * std::max(patch_size(s), flipped_k) + flipped_k * s.in + s.out * patch_size(s);
}

void conv2d_forward(const Conv2dShape& s, const float* x, const float* weight, const float* bias,
                    float* y, float* scratch) {
  const std::size_t pixels = s.height * s.width, k = patch_size(s), chunk = chunk_images(s);
  for (std::size_t n0 = 0; n0 < s.batch; n0 += chunk) {
    const std::size_t images = std::min(chunk, s.batch - n0);
    for (std::size_t i = 0; i < images; ++i) {
      im2col_image(s.height, s.width, s.in, s.kernel_h, s.kernel_w, pad_top(s), pad_left(s),
                   x + (n0 + i) * pixels * s.in, scratch + i * pixels * k);
    }
    // The chunk's outputs start as the bias; the GEMM accumulates into them.
    detail::broadcast_rows(images * pixels, s.out, bias, y + n0 * pixels * s.out);
    detail::gemm(false, false, images * pixels, s.out, k, scratch, k, weight, s.out,
                 y + n0 * pixels * s.out, s.out, true);
  }
}

void conv2d_backward(const Conv2dShape& s, const float* x, const float* weight, const float* dy,
                     float* dx, float* dweight, float* dbias, float* scratch) {
  const std::size_t pixels = s.height * s.width, k = patch_size(s), chunk = chunk_images(s);
  const std::size_t flipped_k = s.kernel_h * s.kernel_w * s.out;
  float* columns = scratch;
  float* flipped = scratch + chunk * pixels * std::max(k, flipped_k);
  float* transposed = flipped + flipped_k * s.in;
  detail::column_sums(rows(s), s.out, dy, dbias);
  if (dx != nullptr) {
    // dx = SAME correlation of dy with flipped[i][j][o][c] = weight[kh-1-i][kw-1-j][c][o], padded
    // kh-1-pad_top before (so odd and even kernels both come out right).
    for (std::size_t i = 0; i < s.kernel_h; ++i) {
      for (std::size_t j = 0; j < s.kernel_w; ++j) {
        const float* src =
            weight + ((s.kernel_h - 1 - i) * s.kernel_w + (s.kernel_w - 1 - j)) * s.in * s.out;
        float* dst = flipped + (i * s.kernel_w + j) * s.out * s.in;
        for (std::size_t c = 0; c < s.in; ++c) {
          for (std::size_t o = 0; o < s.out; ++o) dst[o * s.in + c] = src[c * s.out + o];
        }
      }
    }
  }
  const auto flip_top = static_cast<std::ptrdiff_t>(s.kernel_h) - 1 - pad_top(s);
  const auto flip_left = static_cast<std::ptrdiff_t>(s.kernel_w) - 1 - pad_left(s);
  for (std::size_t n0 = 0; n0 < s.batch; n0 += chunk) {
    const std::size_t images = std::min(chunk, s.batch - n0);
    const std::size_t chunk_rows = images * pixels;
    for (std::size_t i = 0; i < images; ++i) {
      im2col_image(s.height, s.width, s.in, s.kernel_h, s.kernel_w, pad_top(s), pad_left(s),
                   x + (n0 + i) * pixels * s.in, columns + i * pixels * k);
    }
    // dweight^T += dy_chunk^T columns_chunk, chunks in order. (As dweight^T, Eigen packs the
    // columns along contiguous memory; dweight = columns^T dy would gather them with strides.)
    detail::gemm(true, false, s.out, k, chunk_rows, dy + n0 * pixels * s.out, s.out, columns, k,
                 transposed, k, n0 > 0);
    if (dx != nullptr) {
      for (std::size_t i = 0; i < images; ++i) {
        im2col_image(s.height, s.width, s.out, s.kernel_h, s.kernel_w, flip_top, flip_left,
                     dy + (n0 + i) * pixels * s.out, columns + i * pixels * flipped_k);
      }
      detail::gemm(false, false, chunk_rows, s.in, flipped_k, columns, flipped_k, flipped, s.in,
                   dx + n0 * pixels * s.in, s.in, false);
    }
  }
  for (std::size_t o = 0; o < s.out; ++o) {
    for (std::size_t i = 0; i < k; ++i) dweight[i * s.out + o] = transposed[o * k + i];
  }
}

}  // namespace stratus::ml
