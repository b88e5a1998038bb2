#include "stratus/functions/product_functions.hpp"

namespace stratus::functions {

const std::vector<FunctionSpec>& product_functions() {
  // 1769 MB is one full vCPU on Lambda: the gradient kernels are single-threaded, so more memory
  // would only cost more, less would slow them down.
  static const std::vector<FunctionSpec> functions = {
      {"echo", "echo", 128, 3, "Stratus: returns its event"},
      {"gradient", "gradient", 1769, 60, "Stratus linreg: shard gradient, JSON numbers"},
      {"gradient_z", "gradient_z", 1769, 60, "Stratus linreg: shard gradient, stratus-tensor/1"},
      {"shard_stats", "shard_stats", 1769, 60, "Stratus: reads a staged shard back and checks it"},
      // The paper's workers: 1536 MB and the 300 s timeout they re-invoke themselves under.
      {"model_averaging", "model_averaging", 1536, 300, "Stratus CLOUD 2018 Case A/B: model-averaging worker", true},
      // One slice of one layer per call: small, single-threaded, S3-bound.
      {"layer", "layer", 1024, 60, "Stratus layers as functions: one layer slice's forward or backward step"},
      // One image at a time behind a function URL: latency, not throughput, matters.
      {"predict", "predict", 1769, 30, "Stratus: classifies an image with a model from S3 (top-k JSON)"},
      {"augment", "augment", 1769, 300, "Stratus: writes K seeded augmented variants of S3 images"},
      // Case C: one MNIST trial per call, single-threaded (one vCPU); past the paper's 300 s it
      // checkpoints and re-invokes itself, so deploy allows its recursion.
      {"hyperparameter_trial", "hyperparameter_trial", 1769, 300, "Stratus CLOUD 2018 Case C: one hyperparameter-search trial", true},
  };
  return functions;
}

const FunctionSpec* find_product_function(std::string_view name) {
  for (const FunctionSpec& spec : product_functions()) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

}  // namespace stratus::functions
