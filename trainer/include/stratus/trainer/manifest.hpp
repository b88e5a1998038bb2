#pragma once
// The dataset manifest lives in ml/ (stratus/ml/dataset_manifest.hpp) so that the functions read
// shards exactly as the trainer stages them; these are the trainer's names for it.

#include "stratus/ml/dataset_manifest.hpp"
#include "stratus/trainer/shard.hpp"

namespace stratus::trainer {

using ml::DatasetManifest;
using ml::kManifestFileName;
using ml::kManifestFormat;
using ml::manifest_from_json;
using ml::manifest_text;
using ml::manifest_to_json;
using ml::ManifestError;
using ml::ManifestShard;
using ml::open_shard;
using ml::parse_manifest;
using ml::shard_decoded_bytes;
using ml::validate;

}  // namespace stratus::trainer
