#pragma once
// Cutting a dataset into shards: encoding a run of samples of LabeledData as a `stratus-shard/1`
// object. The split rule and the keys (stratus/ml/shard_layout.hpp), the object layout and its
// decoder (stratus/common/shard_codec.hpp) are shared with the functions; they are re-exported
// here.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "stratus/common/shard_codec.hpp"
#include "stratus/common/tensor_codec.hpp"
#include "stratus/ml/shard_layout.hpp"
#include "stratus/trainer/labeled_data.hpp"

namespace stratus::trainer {

using stratus::decode_shard;
using stratus::kShardFormat;
using stratus::kShardHeaderBytes;
using stratus::Shard;
using stratus::ShardFormatError;

// The split rule and the keys live in ml/ (the functions find their shards with them).
using ml::kMaxShards;
using ml::kShardDefaultCompressionLevel;
using ml::shard_key;
using ml::ShardRange;
using ml::split_evenly;

// The shard object for samples [range.first, range.first + range.count) of `data`, encoded
// straight from `data`'s buffers (no copy of the samples). Throws DatasetError for a range outside
// the data or inconsistent data.
std::string encode_shard(const LabeledData& data, ShardRange range,
                         int compression_level = kShardDefaultCompressionLevel);

}  // namespace stratus::trainer
