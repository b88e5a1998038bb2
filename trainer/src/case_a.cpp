// CLOUD 2018 Case A: distinct +/-1 vectors labelled by a fixed linear teacher (rule in
// dataset_readers.hpp).

#include <vector>

#include "stratus/ml/split_mix64.hpp"
#include "stratus/trainer/dataset_readers.hpp"

namespace stratus::trainer {

LabeledData make_case_a(const CaseASpec& spec) {
  if (spec.count == 0 || spec.count > kCaseAMaxCount) {
    throw DatasetError("Case A: count " + std::to_string(spec.count) + " is outside 1.." +
                       std::to_string(kCaseAMaxCount) + " (there are only 2^" +
                       std::to_string(kCaseADimension) + " distinct +/-1 vectors)");
  }
  ml::SplitMix64 random(spec.seed);
  std::int64_t weights[kCaseADimension];
  for (std::int64_t& w : weights) w = 2 * static_cast<std::int64_t>(random.next() % 1024) - 1023;
  const std::int64_t bias = 2 * static_cast<std::int64_t>(random.next() % 2) - 1;

  const auto count = static_cast<std::size_t>(spec.count);
  std::vector<bool> drawn(kCaseAMaxCount, false);
  std::vector<float> features(count * kCaseADimension);
  std::vector<std::int32_t> labels(count);
  for (std::size_t i = 0; i < count; ++i) {
    std::uint64_t word = 0;
    do {
      word = random.next() >> (64 - kCaseADimension);
    } while (drawn[word]);
    drawn[word] = true;
    std::int64_t activation = bias;
    float* row = features.data() + i * kCaseADimension;
    for (std::size_t j = 0; j < kCaseADimension; ++j) {
      const bool positive = ((word >> j) & 1u) != 0;
      row[j] = positive ? 1.0f : -1.0f;
      activation += positive ? weights[j] : -weights[j];
    }
    // A sum of 21 odd numbers is odd: never 0.
    labels[i] = activation > 0 ? 1 : -1;
  }

  LabeledData data;
  data.features = Tensor::of_f32({spec.count, kCaseADimension}, std::move(features));
  data.labels = Tensor::of_i32({spec.count}, std::move(labels));
  data.classes = {-1, 1};
  data.generator = "cloud2018-casea/1 dim=" + std::to_string(kCaseADimension) +
                   " seed=" + std::to_string(spec.seed) + " count=" + std::to_string(spec.count);
  return data;
}

}  // namespace stratus::trainer
