// The merge tree's arithmetic (model_averaging_worker.hpp): one definition, so the functions
// orchestration and the driver sum the same values in the same order.

#include <chrono>

#include "stratus/common/checksum.hpp"
#include "stratus/ml/model_averaging_worker.hpp"

namespace stratus::ml::averaging {

NodeValue node_value(const PartialResult& partial, std::string_view architecture) {
  NodeValue value;
  try {
    value.model = decode_model(partial.model, kMaxDecodedModelBytes);
  } catch (const ModelFormatError& error) {
    throw ProtocolError("partial result " + std::to_string(partial.node.level) + "-" +
                        std::to_string(partial.node.index) + ": " + error.what());
  }
  if (value.model.architecture != architecture) {
    throw ProtocolError("partial result holds a " + value.model.architecture +
                        " model, the run trains " + std::string(architecture));
  }
  value.leaves = partial.leaves;
  value.samples = partial.samples;
  value.correct = partial.correct;
  value.loss_sum = partial.loss_sum;
  return value;
}

PartialResult partial_of(const NodeValue& value, const std::string& run_id, std::uint32_t round,
                         TreeNode node) {
  PartialResult partial;
  partial.run_id = run_id;
  partial.round = round;
  partial.node = node;
  partial.leaves = value.leaves;
  partial.samples = value.samples;
  partial.correct = value.correct;
  partial.loss_sum = value.loss_sum;
  partial.model = encode_model(value.model);
  return partial;
}

void add_child(std::optional<NodeValue>& sum, NodeValue child) {
  if (!sum) {
    sum = std::move(child);
    return;
  }
  try {
    accumulate(sum->model, child.model);
  } catch (const ModelFormatError& error) {
    throw ProtocolError(std::string("merge: ") + error.what());
  }
  sum->leaves += child.leaves;
  sum->samples += child.samples;
  sum->correct += child.correct;
  sum->loss_sum += child.loss_sum;
}

void finish_root(NodeValue& root, std::uint32_t workers) {
  divide(root.model, workers);
}

std::string sha256_hex(std::string_view bytes) {
  Checksum sha(ChecksumAlgorithm::sha256);
  sha.update(bytes);
  const std::string digest = sha.digest();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(digest.size() * 2);
  for (unsigned char c : digest) {
    hex.push_back(kHex[c >> 4]);
    hex.push_back(kHex[c & 15]);
  }
  return hex;
}

std::uint64_t epoch_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

}  // namespace stratus::ml::averaging
