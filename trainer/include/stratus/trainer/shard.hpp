#pragma once
// Cutting a dataset into shards: the split rule, the object keys, and encoding a run of samples
// of LabeledData as a `stratus-shard/1` object. The object layout and its decoder are in
// stratus/common/shard_codec.hpp (stratus_core, so functions share them); they are re-exported
// here.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "stratus/common/shard_codec.hpp"
#include "stratus/common/tensor_codec.hpp"
#include "stratus/trainer/labeled_data.hpp"

namespace stratus::trainer {

using stratus::decode_shard;
using stratus::kShardFormat;
using stratus::kShardHeaderBytes;
using stratus::Shard;
using stratus::ShardFormatError;

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

// The shard object for samples [range.first, range.first + range.count) of `data`, encoded
// straight from `data`'s buffers (no copy of the samples). Throws DatasetError for a range outside
// the data or inconsistent data.
std::string encode_shard(const LabeledData& data, ShardRange range,
                         int compression_level = kShardDefaultCompressionLevel);

}  // namespace stratus::trainer
