#pragma once
// `stratus-trainer stage`: reads a dataset in its real format, cuts it into shards and writes them
// with their manifest to S3 (the emulator's or AWS's). Re-running is idempotent: a shard whose
// object already holds the same bytes (by the SHA-256 kept in its metadata) is skipped.

#include <cstdint>
#include <functional>
#include <string>

namespace stratus::trainer {

struct StageRequest {
  std::string dataset;           // mnist | cifar10 | casea | csv | images
  std::string source;            // directory or file (not for casea)
  std::string split = "train";   // train | test (mnist, cifar10)
  std::string name;              // dataset name in the manifest; default "<dataset>-<split>"
  std::string bucket;
  std::string prefix;            // default: "datasets/<name>"
  std::size_t shards = 8;
  std::string target = "http://127.0.0.1:9001";  // an S3 endpoint URL, or "aws"
  std::string region;
  std::string profile;
  bool create_bucket = true;
  std::uint64_t casea_count = 100000;
  std::uint64_t seed = 1;
  bool csv_classes = false;      // csv labels are int32 classes instead of float32 targets
  int compression_level = 1;
  // images: s3://bucket/prefix/ of one directory per class (image_stage.hpp), read through the
  // target's S3, resized to image_size x image_size.
  std::string images;
  std::uint32_t image_size = 32;
};

struct StageSummary {
  std::string manifest_key;
  std::size_t shards = 0;
  std::size_t uploaded = 0;
  std::size_t skipped = 0;
  std::uint64_t bytes_uploaded = 0;
  std::uint64_t samples = 0;
  double seconds = 0;
};

// Progress: one call per shard ("uploaded" or "skipped") and one for the manifest.
using StageProgress = std::function<void(std::size_t index, std::size_t total, const std::string& key,
                                         const std::string& what, std::uint64_t bytes)>;

// Throws DatasetError for unreadable data, aws::S3Error for refusals by S3, std::invalid_argument
// for bad options.
StageSummary run_stage(const StageRequest& request, const StageProgress& progress = {});

}  // namespace stratus::trainer
