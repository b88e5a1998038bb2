#pragma once
// The samples of a Case A/B run: generated, read from files or found staged, staged into the
// run's store as one contiguous shard per worker (in order), plus the evaluation set.

#include <string>

#include "stratus/common/shard_codec.hpp"
#include "stratus/ml/shard_reader.hpp"
#include "stratus/trainer/model_averaging.hpp"

namespace stratus::trainer {

struct PreparedData {
  ml::StagedDataset dataset;
  Shard evaluation;
  std::string description;  // "Case A: 8000 samples generated (seed 1), staged at s3://..."
  std::string evaluation_description;  // "training data (8000 samples)"
};

PreparedData prepare_data(const ModelAveragingOptions& options, ml::ObjectStore& store);

}  // namespace stratus::trainer
