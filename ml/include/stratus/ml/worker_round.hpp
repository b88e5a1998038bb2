#pragma once
// The kernels of one data-parallel worker: a round of minibatch SGD and a forward-only evaluation.

#include <cstdint>
#include <stdexcept>

#include "stratus/common/shard_codec.hpp"
#include "stratus/ml/model_state.hpp"

namespace stratus::ml {

// Samples in the project's shard form (stratus/common/shard_codec.hpp `Shard`):
//   Case A: features float32 [n,20] (+/-1), labels int32 (-1/+1)
//   Case B: features uint8 [n,3,32,32] (CHW: how `stratus-trainer stage` stores CIFAR-10, the
//           file's own order), labels int32 0..9; the engine converts to NHWC and divides
//           pixels by 255 itself.
struct RoundStats {
  double loss_sum = 0;  // summed loss over every sample seen in the round's minibatches
  std::uint64_t samples = 0;
  std::uint64_t correct = 0;  // Case A: sign(output) == label; Case B: argmax == label
};

// A minibatch whose loss, or a round whose weights, became NaN or infinite (float32 overflow).
// Case B with the paper's N(0,1) initialisation does this within its first round at any
// learning rate, as the same network in TF float32 would; the tutorial initialisation does not.
// `model` is left as it was.
class TrainingDivergedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Starting from `model`, runs `batches` minibatches of `batch_size` consecutive samples of
// `shard` (minibatch b covers rows [b*batch_size, (b+1)*batch_size) modulo the shard's row count,
// wrapping as the paper's code does), SGD with `learning_rate`, losses summed over the batch.
// Each minibatch's loss and accuracy are those of its forward pass, before its update.
// Single-threaded. Returns the stats; `model` is updated in place (and left unchanged when this
// throws). Throws std::invalid_argument (or ModelFormatError) when the shard does not fit the
// architecture or the learning rate is not finite, TrainingDivergedError as above.
RoundStats train_minibatches(ModelState& model, const Shard& shard, std::uint32_t batches,
                             std::uint32_t batch_size, float learning_rate);

// The gradient of minibatch `batch_index`'s summed loss (rows as train_minibatches picks them)
// with respect to every tensor of `model`, as a model of the same layout; `model` is unchanged.
// train_minibatches is this followed by an SGD step, minibatch after minibatch (gradient
// averaging workloads and the tests use it on its own). `stats`, when given, gets the
// minibatch's loss and accuracy. Throws like train_minibatches (TrainingDivergedError for a
// non-finite loss or gradient).
ModelState minibatch_gradients(const ModelState& model, const Shard& shard,
                               std::uint64_t batch_index, std::uint32_t batch_size,
                               RoundStats* stats = nullptr);

struct Evaluation {
  double loss = 0;
  double accuracy = 0;
  std::uint64_t samples = 0;
};
// Forward only over all samples (in fixed-size chunks, deterministic): mean loss and accuracy.
Evaluation evaluate(const ModelState& model, const Shard& shard);
// Case B: the logits [n, 10] of every image of the shard (forward only, as evaluate runs it).
std::vector<float> case_b_logits(const ModelState& model, const Shard& shard);

}  // namespace stratus::ml
