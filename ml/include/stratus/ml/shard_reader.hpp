#pragma once
// Reading a staged dataset (`stratus-trainer stage`) back through an ObjectStore: the manifest,
// then any shard, checked against the manifest. Functions read their shards with this, the trainer
// its evaluation data, so both see the same samples.

#include <cstdint>
#include <filesystem>
#include <string>

#include "stratus/ml/dataset_manifest.hpp"
#include "stratus/ml/object_store.hpp"

namespace stratus::ml {

struct StagedDataset {
  std::string bucket;
  std::string manifest_key;  // e.g. "datasets/mnist-train/manifest.json"
  DatasetManifest manifest;

  // The object key of shard `index`: the manifest's directory plus the shard's key. Throws
  // ManifestError for an index out of range.
  std::string shard_object_key(std::size_t index) const;
};

// Fetches and validates the manifest. Throws ManifestError when there is none at that key or it is
// malformed; ObjectStoreError when the store refuses.
StagedDataset open_staged_dataset(ObjectStore& store, const std::string& bucket,
                                  const std::string& manifest_key);

struct ShardRead {
  Shard shard;
  std::uint64_t bytes = 0;  // size of the shard object
  bool from_cache = false;  // served by the cache directory, no store request made
};

// Shard `index`, checked against the manifest (size, SHA-256, dtypes, shapes, labels; see
// open_shard) and decoded. Throws ShardFormatError when the object does not match the manifest,
// ManifestError when it is missing or the index is out of range.
//
// With a cache directory (a warm environment's /tmp), a verified object is kept there as
// `stratus-shard-<sha256>.bin` (written to a temporary file, then renamed: never seen half
// written) and read from there by later calls. The cache is keyed by the object's content, so a
// warm environment that serves another worker, shard or dataset can never train on the wrong
// shard (the paper's cache file was not keyed: DESIGN.md); a cached file is verified again on
// every read, and a corrupt one is replaced from the store.
ShardRead read_staged_shard(ObjectStore& store, const StagedDataset& dataset, std::size_t index,
                            const std::filesystem::path& cache_dir = {});

}  // namespace stratus::ml
