#pragma once
// `stratus-shard/1`: one object holding a contiguous run of samples of a dataset, features and
// labels, as two binary stratus-tensor/1 frames (see tensor_codec.hpp). Layout, little-endian:
//
//   offset 0   magic            "STSH" (4 bytes)
//          4   version          u8 = 1
//          5   reserved         3 bytes = 0
//          8   features_bytes   u64: length F of the features frame
//          16  labels_bytes     u64: length L of the labels frame
//          24  features frame   F bytes: zlib(stratus-tensor/1 raw frame), shape [n, sample...]
//          24+F labels frame    L bytes: same, shape [n], int32 or float32
//   the object ends exactly at 24 + F + L.
//
// Nothing in a shard depends on time or place: the same samples and compression level give the
// same bytes on every run (with the same zlib build). Lives in stratus_core so that functions
// (linked static) decode shards with the same code that wrote them; cutting datasets into shards
// and the manifest are in trainer/ (stratus/trainer/shard.hpp, manifest.hpp).

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "stratus/common/tensor_codec.hpp"

namespace stratus {

inline constexpr std::string_view kShardFormat = "stratus-shard/1";
inline constexpr std::size_t kShardHeaderBytes = 24;

// Malformed shard bytes, shard parts that do not fit together, or shard bytes that disagree with
// their manifest. The message starts with "stratus-shard/1: ".
class ShardFormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Shard {
  Tensor features;  // [n, sample dims...]
  Tensor labels;    // [n], int32 or float32
  std::uint64_t count() const { return labels.shape.empty() ? 0 : labels.shape[0]; }
};

// The shard object for `features` ([n, 1 to 3 sample dims]) and `labels` ([n], int32 or float32).
// Throws ShardFormatError when they do not fit together or cannot be encoded.
std::string encode_shard(const TensorView& features, const TensorView& labels,
                         int compression_level = kTensorDefaultCompressionLevel);

// Decodes and validates a shard object: layout, both frames (the tensor codec's hostile-input
// rules), features rank >= 2, labels rank 1 of int32 or float32, equal sample counts.
// max_decoded_bytes bounds the two raw frames together. Throws ShardFormatError.
Shard decode_shard(std::string_view bytes, std::uint64_t max_decoded_bytes);

}  // namespace stratus
