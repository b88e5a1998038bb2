// The worker-round entry points: validate the model, then run its architecture's network.

#include "stratus/ml/worker_round.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "networks.hpp"
#include "stratus/ml/architectures.hpp"

namespace stratus::ml {
namespace {

bool all_finite(const ModelState& m) {
  for (const NamedTensor& t : m.tensors) {
    for (float v : t.values) {
      if (!std::isfinite(v)) return false;
    }
  }
  return true;
}

RoundStats run_round(ModelState& model, const Shard& shard, std::uint32_t batches,
                     std::uint32_t batch_size, float learning_rate) {
  if (model.architecture == kCaseA) {
    return detail::train_case_a(model, shard, batches, batch_size, learning_rate);
  }
  if (model.architecture == kCaseB) {
    return detail::train_case_b(model, shard, batches, batch_size, learning_rate);
  }
  throw std::invalid_argument("train_minibatches: no training kernel for '" + model.architecture +
                              "'");
}

}  // namespace

RoundStats train_minibatches(ModelState& model, const Shard& shard, std::uint32_t batches,
                             std::uint32_t batch_size, float learning_rate) {
  validate_model(model);
  if (!std::isfinite(learning_rate)) {
    throw std::invalid_argument("train_minibatches: the learning rate is not finite");
  }
  ModelState work = model;
  const RoundStats stats = run_round(work, shard, batches, batch_size, learning_rate);
  if (!std::isfinite(stats.loss_sum) || !all_finite(work)) {
    throw TrainingDivergedError(
        "train_minibatches: '" + model.architecture + "' diverged: the round's " +
        (std::isfinite(stats.loss_sum) ? std::string("weights became")
                                       : std::string("loss became")) +
        " NaN or infinite (float32 overflow)" +
        (model.architecture == kCaseB ? "; the tutorial initialisation does not diverge" : ""));
  }
  model = std::move(work);
  return stats;
}

ModelState minibatch_gradients(const ModelState& model, const Shard& shard,
                               std::uint64_t batch_index, std::uint32_t batch_size,
                               RoundStats* stats) {
  validate_model(model);
  RoundStats local;
  RoundStats& out = stats != nullptr ? *stats : local;
  ModelState grads;
  if (model.architecture == kCaseA) {
    grads = detail::gradients_case_a(model, shard, batch_index, batch_size, out);
  } else if (model.architecture == kCaseB) {
    grads = detail::gradients_case_b(model, shard, batch_index, batch_size, out);
  } else {
    throw std::invalid_argument("minibatch_gradients: no kernel for '" + model.architecture + "'");
  }
  if (!std::isfinite(out.loss_sum) || !all_finite(grads)) {
    throw TrainingDivergedError("minibatch_gradients: '" + model.architecture +
                                "': the loss or gradient is NaN or infinite (float32 overflow)");
  }
  return grads;
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

std::vector<float> case_b_logits(const ModelState& model, const Shard& shard) {
  validate_model(model);
  if (model.architecture != kCaseB) throw std::invalid_argument("case_b_logits: not a Case B model");
  return detail::logits_case_b(model, shard);
}

Evaluation evaluate(const ModelState& model, const Shard& shard) {
  validate_model(model);
  if (model.architecture == kCaseA) return detail::evaluate_case_a(model, shard);
  if (model.architecture == kCaseB) return detail::evaluate_case_b(model, shard);
  throw std::invalid_argument("evaluate: no evaluation kernel for '" + model.architecture + "'");
}

}  // namespace stratus::ml
