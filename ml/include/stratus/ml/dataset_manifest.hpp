#pragma once
// `stratus-dataset/1`: the JSON manifest of a staged dataset. It sits next to the shards
// (`<prefix>/manifest.json`, shards at `<prefix>/<key>`) and says what they hold:
//
// {
//   "format": "stratus-dataset/1",
//   "dataset": "mnist-train",
//   "sources": [{"name": "train-images-idx3-ubyte.gz", "bytes": 9912422, "sha256": "<hex>"}, ...],
//   "generator": "",                      // or e.g. "cloud2018-casea/1 dim=20 seed=1 count=100000"
//   "features": {"dtype": "uint8", "sample_shape": [28, 28]},
//   "labels": {"dtype": "int32", "classes": [0, 1, ..., 9], "class_counts": [5923, ...]},
//   "count": 60000,
//   "shard_format": "stratus-shard/1",
//   "tensor_format": "stratus-tensor/1",
//   "compression_level": 1,
//   "shards": [{"key": "shard-00000-of-00008.bin", "first": 0, "count": 7500,
//               "bytes": 6123456, "sha256": "<hex of the object bytes>"}, ...],
//   "created": "2025-01-01T00:00:00Z"     // optional, informational only
// }
//
// Everything but "created" is a function of the source data, the dataset name, the shard count and
// the compression level, so staging the same data twice gives the same manifest text.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stratus/common/shard_codec.hpp"
#include "stratus/common/tensor_codec.hpp"
#include "stratus/ml/dataset_error.hpp"
#include "stratus/ml/shard_layout.hpp"

namespace stratus::ml {

inline constexpr std::string_view kManifestFormat = "stratus-dataset/1";
inline constexpr std::string_view kManifestFileName = "manifest.json";

// A manifest that is malformed or disagrees with itself.
class ManifestError : public DatasetError {
 public:
  using DatasetError::DatasetError;
};

// A file a dataset was read from, identified by its content, so that a manifest does not depend on
// the directory the files happened to be in.
struct SourceFile {
  std::string name;         // file name without directory, e.g. "train-images-idx3-ubyte.gz"
  std::uint64_t bytes = 0;  // size of the file as stored (compressed size for .gz)
  std::string sha256;       // 64 lower-case hex digits of the stored bytes

  bool operator==(const SourceFile&) const = default;
};

struct ManifestShard {
  std::string key;          // relative to the dataset prefix: "shard-00003-of-00008.bin"
  std::uint64_t first = 0;  // index of the shard's first sample
  std::uint64_t count = 0;  // samples in the shard
  std::uint64_t bytes = 0;  // size of the shard object
  std::string sha256;       // 64 lower-case hex digits of the shard object's bytes

  ShardRange range() const { return {first, count}; }
  bool operator==(const ManifestShard&) const = default;
};

struct DatasetManifest {
  std::string dataset;  // 1-128 characters of [A-Za-z0-9._-]
  std::vector<SourceFile> sources;
  std::string generator;
  DType element_type = DType::uint8;        // uint8 or float32
  std::vector<std::uint64_t> sample_shape;  // 1 to 3 dims, each >= 1
  std::uint64_t count = 0;
  DType label_type = DType::int32;          // int32 or float32
  std::vector<std::int32_t> classes;        // int32 labels: ascending; float32: empty
  std::vector<std::uint64_t> class_counts;  // samples per class, same order as `classes`
  int compression_level = kShardDefaultCompressionLevel;
  std::vector<ManifestShard> shards;
  std::optional<std::string> created;  // never part of what identifies a shard

  bool operator==(const DatasetManifest&) const = default;
};

// Throws ManifestError naming the first inconsistency: unknown dtypes, sizes that overflow, classes
// not ascending, class counts not summing to count, shards that are not exactly
// split_evenly(count, shards.size()) with keys shard_key(i, n), malformed sha256 digests, a shard
// object smaller than its header, a dataset name outside the allowed characters, no provenance.
void validate(const DatasetManifest& manifest);

// Field order as documented above. validate()s first.
nlohmann::ordered_json manifest_to_json(const DatasetManifest& manifest);
// Reads and validate()s; unknown fields are ignored (room for additions within version 1), missing
// or mistyped ones are a ManifestError naming the field.
DatasetManifest manifest_from_json(const nlohmann::json& json);

// The manifest object's text: manifest_to_json(manifest).dump(2) plus a newline.
std::string manifest_text(const DatasetManifest& manifest);
DatasetManifest parse_manifest(std::string_view text);

// Raw size of a shard's two tensor frames when decoded: the exact max_decoded_bytes to give
// decode_shard() for that shard.
std::uint64_t shard_decoded_bytes(const DatasetManifest& manifest, const ManifestShard& shard);

// What a worker does with a shard object it fetched: checks its size and SHA-256 against
// manifest.shards[index], decodes it within exactly the bytes the manifest implies, and checks
// dtypes and shapes against the manifest. Throws ShardFormatError (or ManifestError for an index
// out of range).
Shard open_shard(const DatasetManifest& manifest, std::size_t index, std::string_view object_bytes);

}  // namespace stratus::ml
