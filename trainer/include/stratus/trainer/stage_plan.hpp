#pragma once
// Staging a dataset into an object store, without knowing the store: the plan says which objects
// to write under which keys and produces their bytes one at a time; the caller does the I/O.
//
//   StagePlan plan = plan_stage(data, "mnist-train", 8, "datasets/mnist-train");
//   for (std::size_t i = 0; i < plan.shard_count(); ++i) {
//     StagedShard shard = plan.encode_shard(i);            // bytes of one shard only
//     if (!already_there(shard.object_key, shard.entry)) put(shard.object_key, shard.bytes);
//   }
//   put(plan.manifest_key(), plan.manifest_text());        // last: it vouches for the shards
//
// Each shard is encoded once and can be dropped once written, so at most one shard's bytes exist
// next to the dataset itself.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stratus/trainer/labeled_data.hpp"
#include "stratus/trainer/manifest.hpp"
#include "stratus/trainer/shard.hpp"

namespace stratus::trainer {

struct StageOptions {
  int compression_level = kShardDefaultCompressionLevel;  // zlib level of the shard frames, -1..9
  std::optional<std::string> created;                     // copied into the manifest as is
};

struct StagedShard {
  std::size_t index = 0;
  std::string object_key;  // prefix + "/" + entry.key
  ManifestShard entry;     // what the manifest says about this object
  std::string bytes;       // the object
};

class StagePlan {
 public:
  std::size_t shard_count() const { return ranges_.size(); }
  const std::string& prefix() const { return prefix_; }
  const std::string& dataset() const { return manifest_.dataset; }
  ShardRange range(std::size_t index) const { return ranges_.at(index); }

  // `relative_key` under the prefix: "datasets/mnist" + "shard-00000-of-00008.bin" ->
  // "datasets/mnist/shard-00000-of-00008.bin" (no slash added for an empty prefix).
  std::string object_key(std::string_view relative_key) const;
  std::string manifest_key() const { return object_key(kManifestFileName); }

  // Encodes shard `index` (the same bytes on every call) and records its entry for the manifest.
  // Any order; repeats are fine. Throws std::out_of_range for a bad index.
  StagedShard encode_shard(std::size_t index);

  // True once every shard has been encoded at least once.
  bool complete() const;
  // The manifest, every shard entry filled in. Throws std::logic_error before complete().
  const DatasetManifest& manifest() const;
  std::string manifest_text() const { return trainer::manifest_text(manifest()); }

 private:
  friend StagePlan plan_stage(const LabeledData&, std::string, std::size_t, std::string,
                              StageOptions);
  StagePlan(const LabeledData& data, DatasetManifest manifest, std::vector<ShardRange> ranges,
            std::string prefix);

  const LabeledData* data_;
  DatasetManifest manifest_;
  std::vector<ShardRange> ranges_;
  std::vector<bool> encoded_;
  std::string prefix_;
};

// Validates `data`, splits it with split_evenly(data.count(), shards) and fills in everything of
// the manifest but the shard sizes and digests. `data` is referenced, not copied: it must outlive
// the plan. `prefix` is normalised (leading and trailing '/' dropped); it must not contain "//",
// ".." segments or control characters. Throws DatasetError.
StagePlan plan_stage(const LabeledData& data, std::string dataset_name, std::size_t shards,
                     std::string prefix, StageOptions options = {});

// Idempotent re-runs: does an object already in the store hold this shard?
// By its bytes (size, then SHA-256):
bool shard_matches(const ManifestShard& shard, std::string_view object_bytes);
// By a SHA-256 the store reports: 64 hex digits (either case) or the base64 of the 32 raw bytes
// (S3's x-amz-checksum-sha256 / ChecksumSHA256). Anything else does not match.
bool shard_sha256_matches(const ManifestShard& shard, std::string_view sha256);

}  // namespace stratus::trainer
