#pragma once
// The linear-regression workload's protocol (DESIGN.md, system 1: serverless parallel gradient
// descent): one request per (epoch, step, shard), answered with that shard's gradient. The
// trainer's driver encodes requests and decodes answers with it; the `gradient` and `gradient_z`
// functions serve it. The kernel is stratus::linear_gradient (stratus/common/linear_model.hpp),
// which stays in stratus_core, compiled at the project's baseline instruction set: moving it under
// stratus_ml's x86-64-v3 flags would change Eigen's packet width and so the rounding of every
// model trained so far (linreg's results are pinned bit for bit; see tests/unit/trainer).
//
// `gradient` (PayloadFormat::Json), everything as JSON numbers:
//   Request:  {"epoch":E,"step":S,"shard":K,"weights":[d],"bias":b,"x":[[d] x n],"y":[n]}
//   Response: {"epoch":E,"step":S,"shard":K,"gradient":[d],"bias_gradient":g,"sse":s,"rows":n}
// `gradient_z` (PayloadFormat::Zlib), the arrays as stratus-tensor/1 text (base64 of zlib):
//   Request:  {"epoch":E,"step":S,"shard":K,"format":"stratus-tensor/1","weights":<f64 [d]>,
//              "bias":b,"x":<f32 [n,d]>,"y":<f32 [n]>}
//   Response: {"epoch":E,"step":S,"shard":K,"format":"stratus-tensor/1","gradient":<f64 [d]>,
//              "bias_gradient":g,"sse":s,"rows":n}
// E, S, K are non-negative integers echoed back unchanged. The gradient is that of 0.5 * the sum of
// squared residuals (a sum over the shard, not a mean). x and y are widened from float32 to
// double exactly (JSON numbers print each float in the shortest form that reads back as the same
// double), so float32 data gives bit-identical results through both formats and in-process.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "stratus/common/linear_model.hpp"
#include "stratus/ml/protocol_error.hpp"

namespace stratus::ml::linreg {

enum class PayloadFormat { Json, Zlib };

// The functions serving each format (the product's function and handler names).
std::string_view function_for(PayloadFormat format);

// Upper bound on each decoded tensor of a gradient_z request (header included). A 6 MB Lambda
// payload of real float data inflates to a few tens of MB at most; the bound stops a zip bomb long
// before it can exhaust the function's memory.
inline constexpr std::uint64_t kMaxRequestTensorBytes = std::uint64_t{256} << 20;

struct ShardIds {
  std::uint32_t epoch = 0;
  std::uint32_t step = 0;
  std::uint32_t shard = 0;
  bool operator==(const ShardIds&) const = default;
};

// ---- the driver's side ----

// The part of a request that depends only on the rows: the driver encodes it once per set of
// rows and reuses it every epoch (see encode_request).
std::string encode_rows(std::span<const float> x, std::span<const float> y, std::size_t features,
                        PayloadFormat format);
// The whole request: the ids, the model and the pre-encoded rows.
std::string encode_request(const ShardIds& ids, std::span<const double> weights, double bias,
                           std::string_view encoded_rows, PayloadFormat format);

struct GradientAnswer {
  ShardIds ids;
  ShardGradient gradient;
};
// Reads an answer; throws ProtocolError when it is not one (wrong shape, missing fields).
GradientAnswer decode_answer(std::string_view body, std::size_t features, PayloadFormat format);

// ---- the function's side ----

// Computes the answer to a request; throws ProtocolError for a request it refuses.
std::string serve(std::string_view request, PayloadFormat format);

}  // namespace stratus::ml::linreg
