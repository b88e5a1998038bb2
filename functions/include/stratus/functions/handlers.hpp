#pragma once
// The product's Lambda handlers. Each is a plain function so the trainer's in-process invoker can
// call it directly; product_handlers() wraps them for the runtime, keyed by their _HANDLER name.
//
// Handlers throw InvalidInput for requests they refuse; the runtime reports it with errorType
// "InvalidInput" (any other exception escaping a handler is a bug and is reported under its C++
// type name).

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "stratus/runtime/runtime_client.hpp"

namespace stratus::functions {

class InvalidInput : public runtime::FunctionError {
 public:
  explicit InvalidInput(const std::string& message) : FunctionError("InvalidInput", message) {}
};

// Upper bound on each decoded tensor of a gradient_z request (header included). A 6 MB Lambda
// payload of real float data inflates to a few tens of MB at most; the bound stops a zip bomb long
// before it can exhaust the function's memory.
inline constexpr std::uint64_t kMaxRequestTensorBytes = std::uint64_t{256} << 20;

// Returns the event unchanged.
std::string echo_handler(std::string_view payload);

// Linear-regression gradient of one data shard, everything as JSON numbers.
// Request:  {"epoch":E,"step":S,"shard":K,"weights":[d],"bias":b,"x":[[d] x n],"y":[n]}
// Response: {"epoch":E,"step":S,"shard":K,"gradient":[d],"bias_gradient":g,"sse":s,"rows":n}
// E, S, K are non-negative integers and are echoed back unchanged; x and y are read as double.
// The gradient is that of 0.5 * sum of squared residuals (a sum over the shard, not a mean).
std::string gradient_handler(std::string_view payload);

// The same computation with the arrays as stratus-tensor/1 text (base64 of zlib, see
// stratus/common/tensor_codec.hpp).
// Request:  {"epoch":E,"step":S,"shard":K,"format":"stratus-tensor/1","weights":<f64 [d]>,
//            "bias":b,"x":<f32 [n,d]>,"y":<f32 [n]>}
// Response: {"epoch":E,"step":S,"shard":K,"format":"stratus-tensor/1","gradient":<f64 [d]>,
//            "bias_gradient":g,"sse":s,"rows":n}
// x and y are widened from float32 to double exactly, so data that is float32-representable gives
// bit-identical results through gradient and gradient_z.
std::string gradient_z_handler(std::string_view payload);

// Reads one shard of a staged dataset back from S3 (the emulator's, or AWS's: the client takes its
// endpoint, region and credentials from the environment Lambda provides) and checks it against
// the dataset's manifest.
// Request:  {"bucket":"B","manifest":"datasets/mnist-train/manifest.json","shard":K}
// Response: {"key":..,"bytes":n,"sha256":..,"count":n,"first":i,"sample_shape":[..],
//            "feature_dtype":"uint8","label_counts":{"0":n0,..},"feature_sum":s}
// A shard whose bytes do not match the manifest's SHA-256 is an InvalidInput error.
std::string shard_stats_handler(std::string_view payload);

// name -> handler, as the `bootstrap` selects them with _HANDLER.
std::map<std::string, runtime::Handler> product_handlers();

}  // namespace stratus::functions
