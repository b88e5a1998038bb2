#pragma once
// The samples of a Case A/B run: generated, read from files or found staged, staged into the
// run's store as one contiguous shard per worker (in order), plus the evaluation set.

#include <string>

#include "stratus/common/shard_codec.hpp"
#include "stratus/ml/shard_reader.hpp"
#include "stratus/trainer/labeled_data.hpp"
#include "stratus/trainer/model_averaging.hpp"

namespace stratus::trainer {

struct PreparedData {
  ml::StagedDataset dataset;
  Shard evaluation;
  std::string description;  // "Case A: 8000 samples generated (seed 1), staged at s3://..."
  std::string evaluation_description;  // "training data (8000 samples)"
};

// Stages `data` as `shards` contiguous shards under datasets/<name>/ unless the store holds that
// very dataset already (same name, provenance, count and shard count). Case C stages with it too.
ml::StagedDataset stage_into(ml::ObjectStore& store, const std::string& bucket,
                             const LabeledData& data, const std::string& name,
                             std::uint32_t shards);

PreparedData prepare_data(const ModelAveragingOptions& options, ml::ObjectStore& store);
// A run being resumed: its staged dataset, and the evaluation set (Case B: the test batch of
// --data DIR when given; otherwise the training data, from the shards).
PreparedData open_prepared_data(const ModelAveragingOptions& options, ml::ObjectStore& store,
                                const std::string& dataset_bucket, const std::string& manifest_key);

}  // namespace stratus::trainer
