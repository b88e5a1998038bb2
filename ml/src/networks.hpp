#pragma once
// The CLOUD 2018 networks behind worker_round.hpp (one file each). Callers have validated the
// model against its architecture; these check the shard.

#include <vector>

#include "stratus/ml/worker_round.hpp"

namespace stratus::ml::detail {

RoundStats train_case_a(ModelState& model, const Shard& shard, std::uint32_t batches,
                        std::uint32_t batch_size, float learning_rate);
Evaluation evaluate_case_a(const ModelState& model, const Shard& shard);
ModelState gradients_case_a(const ModelState& model, const Shard& shard, std::uint64_t batch_index,
                            std::uint32_t batch_size, RoundStats& stats);

RoundStats train_case_b(ModelState& model, const Shard& shard, std::uint32_t batches,
                        std::uint32_t batch_size, float learning_rate);
Evaluation evaluate_case_b(const ModelState& model, const Shard& shard);
std::vector<float> logits_case_b(const ModelState& model, const Shard& shard);  // [n, 10]
ModelState gradients_case_b(const ModelState& model, const Shard& shard, std::uint64_t batch_index,
                            std::uint32_t batch_size, RoundStats& stats);

// A model of `model`'s layout holding `grads` (one vector per tensor, in order).
ModelState as_model(const ModelState& model, std::vector<std::vector<float>> grads);

// Row `b*batch_size + i` of the round, wrapped modulo the shard's row count.
inline std::uint64_t round_row(std::uint64_t batch, std::uint64_t batch_size, std::uint64_t i,
                               std::uint64_t rows) {
  return (batch * batch_size + i) % rows;
}

}  // namespace stratus::ml::detail
