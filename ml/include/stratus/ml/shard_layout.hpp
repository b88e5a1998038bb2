#pragma once
// How a dataset is cut into shards: the split rule and the object keys. The trainer stages with
// it and the functions find their shard with it, so both agree on which samples a shard holds.

#include <cstdint>
#include <string>
#include <vector>

#include "stratus/common/tensor_codec.hpp"
#include "stratus/ml/dataset_error.hpp"

namespace stratus::ml {

inline constexpr int kShardDefaultCompressionLevel = kTensorDefaultCompressionLevel;
// Shard keys have five digits.
inline constexpr std::uint64_t kMaxShards = 99'999;

struct ShardRange {
  std::uint64_t first = 0;  // index of the first sample in the dataset
  std::uint64_t count = 0;

  bool operator==(const ShardRange&) const = default;
};

// `count` samples in `shards` contiguous runs, in order; the first count % shards runs hold one
// sample more than the others. Throws DatasetError unless 1 <= shards <= min(count, kMaxShards).
std::vector<ShardRange> split_evenly(std::uint64_t count, std::uint64_t shards);

// "shard-00003-of-00008.bin" for index 3 of 8 (index counts from 0).
std::string shard_key(std::uint64_t index, std::uint64_t shards);

}  // namespace stratus::ml
