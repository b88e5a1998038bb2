// The worker-round entry points: validate the model, then run its architecture's network.

#include "stratus/ml/worker_round.hpp"

#include <stdexcept>

#include "networks.hpp"
#include "stratus/ml/architectures.hpp"

namespace stratus::ml {

RoundStats train_minibatches(ModelState& model, const Shard& shard, std::uint32_t batches,
                             std::uint32_t batch_size, float learning_rate) {
  validate_model(model);
  if (model.architecture == kCaseA) {
    return detail::train_case_a(model, shard, batches, batch_size, learning_rate);
  }
  if (model.architecture == kCaseB) {
    return detail::train_case_b(model, shard, batches, batch_size, learning_rate);
  }
  throw std::invalid_argument("train_minibatches: no training kernel for '" + model.architecture +
                              "'");
}

ModelState minibatch_gradients(const ModelState& model, const Shard& shard,
                               std::uint64_t batch_index, std::uint32_t batch_size,
                               RoundStats* stats) {
  validate_model(model);
  RoundStats local;
  RoundStats& out = stats != nullptr ? *stats : local;
  if (model.architecture == kCaseA) {
    return detail::gradients_case_a(model, shard, batch_index, batch_size, out);
  }
  if (model.architecture == kCaseB) {
    return detail::gradients_case_b(model, shard, batch_index, batch_size, out);
  }
  throw std::invalid_argument("minibatch_gradients: no kernel for '" + model.architecture + "'");
}

namespace detail {

ModelState as_model(const ModelState& model, std::vector<std::vector<float>> grads) {
  ModelState out;
  out.architecture = model.architecture;
  for (std::size_t i = 0; i < model.tensors.size(); ++i) {
    out.tensors.push_back({model.tensors[i].name, model.tensors[i].shape, std::move(grads[i])});
  }
  return out;
}

}  // namespace detail

Evaluation evaluate(const ModelState& model, const Shard& shard) {
  validate_model(model);
  if (model.architecture == kCaseA) return detail::evaluate_case_a(model, shard);
  if (model.architecture == kCaseB) return detail::evaluate_case_b(model, shard);
  throw std::invalid_argument("evaluate: no evaluation kernel for '" + model.architecture + "'");
}

}  // namespace stratus::ml
