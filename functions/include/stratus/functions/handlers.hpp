#pragma once
// The product's Lambda handlers: thin adapters from payload bytes to a workload's protocol in ml/
// (stratus/ml/*_protocol.hpp). product_handlers() is the one table that both the `bootstrap` and
// the trainer's in-process invoker serve, keyed by _HANDLER name; product_functions.hpp lists the
// functions deployed over it.
//
// Adding a workload: its protocol in ml/, one line here and in product_handlers(), its driver in
// trainer/, one entry in product_functions().
//
// Handlers throw InvalidInput for requests they refuse; the runtime reports it with errorType
// "InvalidInput" (any other exception escaping a handler is a bug and is reported under its C++
// type name).

#include <cstdint>
#include <string>
#include <string_view>

#include "stratus/functions/handler_context.hpp"
#include "stratus/ml/linreg_protocol.hpp"
#include "stratus/runtime/runtime_client.hpp"

namespace stratus::functions {

class InvalidInput : public runtime::FunctionError {
 public:
  explicit InvalidInput(const std::string& message) : FunctionError("InvalidInput", message) {}
};

using ml::linreg::kMaxRequestTensorBytes;

// Returns the event unchanged.
std::string echo_handler(std::string_view payload);

// Linear-regression gradient of one data shard (protocol: stratus/ml/linreg_protocol.hpp), with
// everything as JSON numbers (`gradient`) or the arrays as stratus-tensor/1 text (`gradient_z`).
std::string gradient_handler(std::string_view payload);
std::string gradient_z_handler(std::string_view payload);

// Reads one shard of a staged dataset back through the context's store (S3 in Lambda: the
// emulator's or AWS's, from the environment Lambda provides) and checks it against the dataset's
// manifest.
// Request:  {"bucket":"B","manifest":"datasets/mnist-train/manifest.json","shard":K}
// Response: {"key":..,"bytes":n,"sha256":..,"count":n,"first":i,"sample_shape":[..],
//            "feature_dtype":"uint8","label_counts":{"0":n0,..},"feature_sum":s}
// A shard whose bytes do not match the manifest is an InvalidInput error.
std::string shard_stats_handler(std::string_view payload, HandlerContext& context);

// _HANDLER name -> handler.
// CLOUD 2018 Case A and Case B workers (stratus-model-averaging/1, the architecture in the
// request's run config): "train" runs one round for the trainer's driver; "work" carries a worker
// through the run, merging along the tree through the context's store and re-invoking itself
// through its Event invoker (stratus/ml/model_averaging_worker.hpp).
std::string model_averaging_handler(std::string_view payload, HandlerContext& context);

// Layers as functions (stratus-layer-parallel/1): one forward or backward step of one slice of
// one layer, parameters, activations and optimiser state in the context's store
// (stratus/ml/layer_parallel.hpp). Idempotent: a repeated delivery rewrites nothing.
std::string layer_handler(std::string_view payload, HandlerContext& context);

// Classifies an image or tensor with a model from the store, loaded once per warm environment
// (stratus/ml/predict_protocol.hpp): {"label": probability, ...} for the top k classes.
std::string predict_handler(std::string_view payload, HandlerContext& context);

// Writes K seeded variants (flips, rotation, crop, brightness/contrast, blur/sharpen) of each of
// its images as PNG (stratus/ml/augment_protocol.hpp).
std::string augment_handler(std::string_view payload, HandlerContext& context);

// One segment of a CLOUD 2018 Case C trial (stratus/ml/hyperparameter_search.hpp): trains, then
// writes the result, or checkpoints and Event-invokes itself for the rest.
std::string hyperparameter_trial_handler(std::string_view payload, HandlerContext& context);

HandlerTable product_handlers();

}  // namespace stratus::functions
