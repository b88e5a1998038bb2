#pragma once
// `stratus-layer-parallel/1`: a network whose layers are functions (model parallel; DESIGN.md
// system 3, "Lambda as neurons"). An L-layer logistic network (hidden tanh or ReLU, one sigmoid
// output, logistic loss summed over the batch, optional L2 on the weights) is trained so that the
// forward and the backward step of every layer, or of every slice of K neurons of a layer, is its
// own invocation of the stateless `layer` function: forward 1 -> L, backward L -> 1.
//
// Everything a layer function needs lives in the object store under `runs/<run>/` (five-digit
// numbers), keyed by (step, layer, slice):
//   batch/step-<s>.bin                      the step's rows: x f32 [B, D], y f32 [B] (0/1)
//   params/step-<s>/layer-<l>-slice-<j>.bin  weight f32 [in, k], bias f32 [k] before step s's
//   update opt/step-<s>/layer-<l>-slice-<j>.bin     Adam's m and v (absent at step 0: zeros; SGD:
//   none) act/step-<s>/layer-<l>-slice-<j>.bin     the slice's output [B, k]: tanh/ReLU of the
//                                           pre-activation for hidden layers, the logits for L
//   grad/step-<s>/layer-<l>-slice-<j>.bin    the slice's contribution to dL/d(input) [B, in]
//   wgrad/step-<s>/layer-<l>-slice-<j>.bin   the slice's weight and bias gradients
// Objects are `stratus-frames/1` (see encode_frames). Forward (s, l, j) reads batch s (l = 1) or
// every slice of act (s, l-1), and params (s, l, j); it writes act (s, l, j). Backward (s, l, j)
// reads params (s, l, j), its input activations, its own act, and every slice of grad (s, l+1)
// (l < L; for l = L the labels), and writes grad (s, l, j) (l > 1), wgrad (s, l, j), params
// (s+1, l, j) and opt (s+1, l, j).
//
// At-least-once delivery: every object written is a pure function of objects of step s that
// nothing overwrites, so running the same (run, step, layer, slice, direction) again computes
// the same bytes; a write whose key already holds exactly those bytes is skipped (the answer says
// `"replayed": true`), and one that holds different bytes is refused (ProtocolError "conflict"):
// nothing advances twice and nothing is silently replaced.
//
// Request (JSON): {"protocol":"stratus-layer-parallel/1","direction":"forward"|"backward",
//   "config":{run config},"step":s,"layer":l,"slice":j}
// Answer: {"protocol":..,"direction":..,"run_id":..,"step":s,"layer":l,"slice":j,"replayed":b,
//   "rows":B, forward: "l2":0.5*lambda*|W_slice|^2 and, for the output layer, "loss" (summed
//   logistic loss) and "correct" (rows with (logit > 0) == label); backward of the output layer
//   also "loss"}.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stratus/common/tensor_codec.hpp"
#include "stratus/ml/model_state.hpp"
#include "stratus/ml/object_store.hpp"
#include "stratus/ml/protocol_error.hpp"

namespace stratus::ml::layer_parallel {

inline constexpr std::string_view kProtocol = "stratus-layer-parallel/1";
inline constexpr std::string_view kFunction = "layer";
inline constexpr std::size_t kMaxRunIdLength = 64;
inline constexpr std::uint32_t kMaxSteps = 10'000'000;
inline constexpr std::uint32_t kMaxBatch = 1u << 16;
// Bound on a decoded object (a [B, in] gradient of the biggest allowed layer and batch fits).
inline constexpr std::uint64_t kMaxObjectBytes = std::uint64_t{512} << 20;

enum class Activation { Tanh, Relu };
enum class Optimizer { Sgd, Adam };
enum class Direction { Forward, Backward };

struct RunConfig {
  std::string run_id;
  std::string bucket;
  std::vector<std::uint32_t> widths;  // D, hidden..., 1
  Activation hidden = Activation::Tanh;
  std::uint32_t neurons_per_function = 0;  // K; 0: a whole layer per function
  Optimizer optimizer = Optimizer::Sgd;
  float learning_rate = 0.01f;
  float l2 = 0.0f;
  float beta1 = 0.9f, beta2 = 0.999f, epsilon = 1e-8f;  // Adam
  std::uint32_t batch_size = 32;

  std::size_t layers() const { return widths.size() - 1; }
  // Slices of layer l (1-based): ceil(width / K).
  std::uint32_t slices(std::size_t layer) const;
  // [first neuron, end) of slice j of layer l.
  std::pair<std::uint32_t, std::uint32_t> slice_range(std::size_t layer, std::uint32_t slice) const;
};

// Throws ProtocolError naming the field for anything out of range (run id of 1-64 of
// [A-Za-z0-9._-], 2..33 widths within 1..65536 ending in 1, K <= width, finite positive lr, ...).
void validate(const RunConfig& config);
std::string config_to_json(const RunConfig& config);
RunConfig config_from_json(std::string_view text);  // validates

struct StepId {
  Direction direction = Direction::Forward;
  std::uint32_t step = 0;
  std::uint32_t layer = 1;
  std::uint32_t slice = 0;
  bool operator==(const StepId&) const = default;
};
std::string_view direction_name(Direction direction);
std::string encode_request(const RunConfig& config, const StepId& id);
struct Request {
  RunConfig config;
  StepId id;
};
// Validates everything: the config, layer within 1..L, slice within the layer's slices, step
// within kMaxSteps. Throws ProtocolError naming the field.
Request decode_request(std::string_view body);

struct StepAnswer {
  std::string run_id;
  StepId id;
  bool replayed = false;
  std::uint32_t rows = 0;
  std::optional<double> loss;            // output layer
  std::optional<double> l2;              // forward
  std::optional<std::uint32_t> correct;  // output layer, forward
};
std::string encode_answer(const StepAnswer& answer);
StepAnswer decode_answer(std::string_view body);  // throws ProtocolError
// The fan-out key of a request/answer: "<run>/<direction>/<step>/<layer>/<slice>".
std::string answer_key(std::string_view run_id, const StepId& id);

// ---- keys ----
std::string run_prefix(std::string_view run_id);
std::string batch_key(std::string_view run_id, std::uint32_t step);
std::string params_key(std::string_view run_id, std::uint32_t step, std::uint32_t layer,
                       std::uint32_t slice);
std::string opt_key(std::string_view run_id, std::uint32_t step, std::uint32_t layer,
                    std::uint32_t slice);
std::string act_key(std::string_view run_id, std::uint32_t step, std::uint32_t layer,
                    std::uint32_t slice);
std::string grad_key(std::string_view run_id, std::uint32_t step, std::uint32_t layer,
                     std::uint32_t slice);
std::string wgrad_key(std::string_view run_id, std::uint32_t step, std::uint32_t layer,
                      std::uint32_t slice);

// ---- objects: `stratus-frames/1` = "STFR" | u8 version 1 | 3 zero bytes | u32 count | per
// frame: u64 length | binary stratus-tensor/1 frame (uncompressed). Same tensors, same bytes.
std::string encode_frames(const std::vector<Tensor>& tensors);
// Throws ProtocolError (naming `what`) unless the bytes hold exactly `count` frames.
std::vector<Tensor> decode_frames(std::string_view bytes, std::size_t count, std::string_view what);

// ---- the driver's side ----

// The initial parameters (truncated normal, std 1/sqrt(fan_in), redrawn beyond 2 std; biases 0),
// from one SplitMix64(seed) stream over the whole network's layers in order (weights row-major,
// [in, out]), cut into the config's slices: the same network for every K.
ModelState initial_network(const RunConfig& config, std::uint64_t seed);
// Writes the network's slices as params of `step` (and no optimiser state: zeros).
void write_params(ObjectStore& store, const RunConfig& config, std::uint32_t step,
                  const ModelState& network);
// Reads every slice of params `step` back into one model (architecture mlp/1:...).
ModelState read_params(ObjectStore& store, const RunConfig& config, std::uint32_t step);
// Rows (step*B + i) mod n of x [n, D] / y [n], as the batch object of `step`.
void write_batch(ObjectStore& store, const RunConfig& config, std::uint32_t step,
                 const std::vector<float>& x, const std::vector<float>& y);
// The weight/bias gradients of step `step` (every wgrad slice) as one model.
ModelState read_gradients(ObjectStore& store, const RunConfig& config, std::uint32_t step);

// ---- the function's side ----
std::string serve(std::string_view request, ObjectStore& store);

}  // namespace stratus::ml::layer_parallel
