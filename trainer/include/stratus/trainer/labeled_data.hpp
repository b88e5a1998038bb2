#pragma once
// Labeled samples for the neural-network workloads (CLOUD 2018 Case A, B, C), in memory: one
// tensor of features and one of labels, ready to be cut into shards without conversion. Images stay
// one byte per pixel (uint8); generated and CSV features are float32.

#include <cstdint>
#include <string>
#include <vector>

#include "stratus/common/tensor_codec.hpp"
#include "stratus/ml/dataset_manifest.hpp"  // SourceFile
#include "stratus/trainer/dataset.hpp"      // DatasetError

namespace stratus::trainer {

using ml::SourceFile;

struct LabeledData {
  // Shape [count, sample dims...] (1 to 3 sample dims), dtype uint8 or float32. Sample layouts:
  // MNIST [28, 28] (row-major), CIFAR-10 [3, 32, 32] (R, G, B planes), Case A [20], CSV [features].
  Tensor features;
  // Shape [count]. int32 class labels (MNIST and CIFAR-10: 0..9, Case A: -1 and +1, CSV when
  // asked for) or float32 regression targets (CSV by default).
  Tensor labels;
  // Every label value that may occur, ascending; int32 labels only (empty for float32 targets).
  std::vector<std::int32_t> classes;
  // Where the data came from: the files read, in reading order ...
  std::vector<SourceFile> sources;
  // ... or, for generated data, the generator and its parameters (empty for files).
  std::string generator;

  std::uint64_t count() const { return features.shape.empty() ? 0 : features.shape[0]; }
  std::vector<std::uint64_t> sample_shape() const;
  std::uint64_t sample_elements() const;  // product of sample_shape()

  // Throws DatasetError when the parts disagree: shapes, dtypes, value counts, classes not
  // strictly ascending, a label outside `classes`, neither sources nor a generator.
  void validate() const;
};

}  // namespace stratus::trainer
