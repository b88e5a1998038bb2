#pragma once
// The engine's layers, each usable on its own (forward and backward are separate calls), on
// caller-owned float32 buffers, row-major, NHWC for images. Backward calls overwrite their
// outputs (gradients are not accumulated); a null input-gradient pointer skips that gradient
// (a network's first layer needs none). Results do not depend on the buffers' addresses: GEMMs
// pack their operands, elementwise kernels process fixed 8-float chunks, and every reduction
// runs in a fixed order (see docs/ML_ENGINE.md).

#include <cstddef>
#include <cstdint>

namespace stratus::ml {

// ---- dense: y[batch,out] = x[batch,in] * weight[in,out] + bias[out]
struct DenseShape {
  std::size_t batch = 0, in = 0, out = 0;
};
void dense_forward(const DenseShape& s, const float* x, const float* weight, const float* bias,
                   float* y);
// dweight = x^T dy, dbias = column sums of dy (rows in order), dx = dy weight^T.
void dense_backward(const DenseShape& s, const float* x, const float* weight, const float* dy,
                    float* dx, float* dweight, float* dbias);

// ---- conv2d: SAME padding, stride 1, NHWC input [batch,height,width,in], HWIO weights
// [kernel_h,kernel_w,in,out], output [batch,height,width,out] (+ bias[out]). im2col + Eigen GEMM
// over chunks of whole images (columns built in `scratch`, conv2d_scratch_floats, rebuilt by
// backward from x rather than kept). dx is the SAME correlation of dy with the flipped,
// transposed kernel, also im2col + GEMM.
struct Conv2dShape {
  std::size_t batch = 0, height = 0, width = 0, in = 0, out = 0, kernel_h = 0, kernel_w = 0;
};
std::size_t conv2d_scratch_floats(const Conv2dShape& s);
void conv2d_forward(const Conv2dShape& s, const float* x, const float* weight, const float* bias,
                    float* y, float* scratch);
void conv2d_backward(const Conv2dShape& s, const float* x, const float* weight, const float* dy,
                     float* dx, float* dweight, float* dbias, float* scratch);

// ---- max-pool, TF semantics: SAME padding (output ceil(in/stride); TF puts the odd padding row
// and column after the input), padding never wins. `argmax` (one per output) records the input
// index of each maximum: the first one in window order (rows, then columns) on ties.
struct PoolShape {
  std::size_t batch = 0, height = 0, width = 0, channels = 0, window = 0, stride = 0;
  std::size_t out_height() const { return (height + stride - 1) / stride; }
  std::size_t out_width() const { return (width + stride - 1) / stride; }
};
// Throws std::invalid_argument for inputs of 2^32 values or more, or an empty window.
void max_pool_forward(const PoolShape& s, const float* x, float* y, std::uint32_t* argmax);
// dx (batch*height*width*channels) is zeroed, then each dy is added at its argmax, in output order.
void max_pool_backward(const PoolShape& s, const float* dy, const std::uint32_t* argmax, float* dx);

// ---- local response normalisation over channels, TF semantics:
//   scale[c] = bias + alpha * sum_{|j-c| <= depth_radius} x[j]^2,  y[c] = x[c] * scale[c]^-beta
// (PyTorch's LocalResponseNorm(size=2r+1, alpha=alpha*(2r+1), beta, k=bias) is the same).
struct LrnParams {
  std::size_t depth_radius = 4;
  float bias = 1.0f;
  float alpha = 0.001f / 9.0f;
  float beta = 0.75f;
};
// pixels = batch*height*width; `scale` (pixels*channels) is kept for backward.
void lrn_forward(const LrnParams& p, std::size_t pixels, std::size_t channels, const float* x,
                 float* y, float* scale);
// dx[c] = dy[c]*scale[c]^-beta - 2*alpha*beta*x[c]*sum_{|j-c|<=r} dy[j]*y[j]/scale[j]
void lrn_backward(const LrnParams& p, std::size_t pixels, std::size_t channels, const float* x,
                  const float* y, const float* scale, const float* dy, float* dx);

// ---- activations (n values; in place allowed: y may equal x, dx may equal dy)
void tanh_forward(std::size_t n, const float* x, float* y);
void tanh_backward(std::size_t n, const float* y, const float* dy, float* dx);  // dy*(1-y^2)
void relu_forward(std::size_t n, const float* x, float* y);
// dy where the forward input was > 0, else 0 (x is the forward input, or its output: same sign).
void relu_backward(std::size_t n, const float* x, const float* dy, float* dx);
void sigmoid_forward(std::size_t n, const float* x, float* y);
void sigmoid_backward(std::size_t n, const float* y, const float* dy, float* dx);  // dy*y*(1-y)
// Row-wise softmax of [rows, cols] (max subtracted first).
void softmax_forward(std::size_t rows, std::size_t cols, const float* x, float* y);
// dx = y * (dy - sum_j dy_j y_j), per row.
void softmax_backward(std::size_t rows, std::size_t cols, const float* y, const float* dy,
                      float* dx);

}  // namespace stratus::ml
