// CLOUD 2018 Case A: the paper's synthetic data (rule in dataset_readers.hpp).

#include <algorithm>
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
  const auto count = static_cast<std::size_t>(spec.count);

  // 1. count distinct 20-bit integers.
  std::vector<bool> drawn(kCaseAMaxCount, false);
  std::vector<std::uint32_t> words(count);
  for (std::uint32_t& word : words) {
    std::uint64_t candidate = 0;
    do {
      candidate = random.next() >> (64 - kCaseADimension);
    } while (drawn[candidate]);
    drawn[candidate] = true;
    word = static_cast<std::uint32_t>(candidate);
  }
  // 2. Ascending; the lower half is labelled -1, the upper half +1 (the paper's ds[0:n/2] = -1).
  std::sort(words.begin(), words.end());
  std::vector<std::int32_t> sorted_labels(count);
  for (std::size_t i = 0; i < count; ++i) sorted_labels[i] = i < count / 2 ? -1 : 1;
  // 3. Shuffle the rows (Fisher-Yates from the last row down).
  std::vector<std::size_t> order(count);
  for (std::size_t i = 0; i < count; ++i) order[i] = i;
  for (std::size_t i = count; i-- > 1;) {
    const auto j = static_cast<std::size_t>(random.next() % (i + 1));
    std::swap(order[i], order[j]);
  }

  std::vector<float> features(count * kCaseADimension);
  std::vector<std::int32_t> labels(count);
  for (std::size_t row = 0; row < count; ++row) {
    const std::size_t source = order[row];
    float* out = features.data() + row * kCaseADimension;
    for (std::size_t m = 0; m < kCaseADimension; ++m) {
      out[m] = ((words[source] >> m) & 1u) != 0 ? 1.0f : -1.0f;
    }
    labels[row] = sorted_labels[source];
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
