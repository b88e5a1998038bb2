#include "stratus/ml/dataset_manifest.hpp"

#include <algorithm>
#include <limits>

#include "stratus/common/checksum.hpp"

namespace stratus::ml {

namespace {

using nlohmann::json;
using nlohmann::ordered_json;

[[noreturn]] void fail(const std::string& message) {
  throw ManifestError(std::string(kManifestFormat) + " manifest: " + message);
}

std::string sha256_hex(std::string_view bytes) {
  Checksum sha256(ChecksumAlgorithm::sha256);
  sha256.update(bytes);
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (const char byte : sha256.digest()) {
    hex += kDigits[static_cast<unsigned char>(byte) >> 4];
    hex += kDigits[static_cast<unsigned char>(byte) & 0xf];
  }
  return hex;
}

bool is_sha256_hex(std::string_view text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool is_dataset_name(std::string_view name) {
  return !name.empty() && name.size() <= 128 &&
         std::all_of(name.begin(), name.end(),
                     [](char c) {
                       return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
                     }) &&
         name != "." && name != "..";
}

bool is_file_name(std::string_view name) {
  return !name.empty() && name.size() <= 255 && name != "." && name != ".." &&
         std::none_of(name.begin(), name.end(), [](char c) {
           return c == '/' || c == '\\' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
         });
}

// ---- reading JSON with field paths in every error ----

const json& member(const json& object, const char* key, const std::string& path) {
  const auto it = object.find(key);
  if (it == object.end()) fail("missing field " + path + key);
  return *it;
}

const json& object_at(const json& object, const char* key, const std::string& path) {
  const json& value = member(object, key, path);
  if (!value.is_object()) fail(path + key + " must be an object");
  return value;
}

const json& array_at(const json& object, const char* key, const std::string& path) {
  const json& value = member(object, key, path);
  if (!value.is_array()) fail(path + key + " must be an array");
  return value;
}

std::uint64_t as_u64(const json& value, const std::string& what) {
  if (value.is_number_unsigned()) return value.get<std::uint64_t>();
  if (value.is_number_integer() && value.get<std::int64_t>() >= 0) {
    return static_cast<std::uint64_t>(value.get<std::int64_t>());
  }
  fail(what + " must be a non-negative integer");
}

std::uint64_t u64_at(const json& object, const char* key, const std::string& path) {
  return as_u64(member(object, key, path), path + key);
}

std::int64_t as_i64_in(const json& value, std::int64_t lo, std::int64_t hi,
                       const std::string& what) {
  std::int64_t number = 0;
  if (value.is_number_unsigned()) {
    const auto u = value.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(hi)) fail(what + " is out of range");
    number = static_cast<std::int64_t>(u);
  } else if (value.is_number_integer()) {
    number = value.get<std::int64_t>();
  } else {
    fail(what + " must be an integer");
  }
  if (number < lo || number > hi) fail(what + " is out of range");
  return number;
}

std::string string_at(const json& object, const char* key, const std::string& path) {
  const json& value = member(object, key, path);
  if (!value.is_string()) fail(path + key + " must be a string");
  return value.get<std::string>();
}

DType dtype_at(const json& object, const char* key, const std::string& path) {
  const std::string name = string_at(object, key, path);
  const std::optional<DType> dtype = dtype_from_name(name);
  if (!dtype) fail(path + key + ": unknown dtype \"" + name + "\"");
  return *dtype;
}

}  // namespace

void validate(const DatasetManifest& m) {
  if (!is_dataset_name(m.dataset)) {
    fail("dataset name \"" + m.dataset + "\" must be 1-128 characters of A-Z a-z 0-9 . _ -");
  }
  for (std::size_t i = 0; i < m.sources.size(); ++i) {
    const SourceFile& source = m.sources[i];
    const std::string where = "sources[" + std::to_string(i) + "]";
    if (!is_file_name(source.name)) fail(where + ".name must be a plain file name");
    if (!is_sha256_hex(source.sha256)) fail(where + ".sha256 must be 64 lower-case hex digits");
  }
  if (m.generator.size() > 1024) fail("generator is longer than 1024 characters");
  if (m.sources.empty() && m.generator.empty()) {
    fail("neither sources nor a generator: the data's provenance is unknown");
  }
  if (m.element_type != DType::uint8 && m.element_type != DType::float32) {
    fail("features.dtype must be uint8 or float32, not " + std::string(dtype_name(m.element_type)));
  }
  if (m.sample_shape.empty() || m.sample_shape.size() > kTensorMaxRank - 1) {
    fail("features.sample_shape must have 1 to 3 dims");
  }
  if (m.count == 0) fail("count must be at least 1");
  std::uint64_t bytes = m.count;
  for (const std::uint64_t dim : m.sample_shape) {
    if (dim == 0) fail("features.sample_shape has a dim of 0");
    if (__builtin_mul_overflow(bytes, dim, &bytes)) fail("count x sample_shape overflows");
  }
  if (__builtin_mul_overflow(bytes, dtype_size(m.element_type), &bytes)) {
    fail("count x sample_shape overflows");
  }
  if (m.label_type == DType::int32) {
    if (m.classes.empty()) fail("int32 labels need labels.classes");
    for (std::size_t i = 1; i < m.classes.size(); ++i) {
      if (m.classes[i - 1] >= m.classes[i]) fail("labels.classes must be strictly ascending");
    }
    if (m.class_counts.size() != m.classes.size()) {
      fail("labels.class_counts must have one entry per class (" +
           std::to_string(m.classes.size()) + "), not " + std::to_string(m.class_counts.size()));
    }
    std::uint64_t sum = 0;
    for (const std::uint64_t n : m.class_counts) {
      if (__builtin_add_overflow(sum, n, &sum)) fail("labels.class_counts overflow");
    }
    if (sum != m.count) {
      fail("labels.class_counts add up to " + std::to_string(sum) + ", count is " +
           std::to_string(m.count));
    }
  } else if (m.label_type == DType::float32) {
    if (!m.classes.empty() || !m.class_counts.empty()) {
      fail("float32 labels have no classes or class_counts");
    }
  } else {
    fail("labels.dtype must be int32 or float32, not " + std::string(dtype_name(m.label_type)));
  }
  if (m.compression_level < -1 || m.compression_level > 9) {
    fail("compression_level must be -1..9");
  }
  if (m.shards.empty()) fail("no shards");
  std::vector<ShardRange> expected;
  try {
    expected = split_evenly(m.count, m.shards.size());
  } catch (const DatasetError& error) {
    fail(std::string("shards: ") + error.what());
  }
  for (std::size_t i = 0; i < m.shards.size(); ++i) {
    const ManifestShard& shard = m.shards[i];
    const std::string where = "shards[" + std::to_string(i) + "]";
    const std::string key = shard_key(i, m.shards.size());
    if (shard.key != key) fail(where + ".key is \"" + shard.key + "\", expected \"" + key + "\"");
    if (shard.range() != expected[i]) {
      fail(where + " covers [" + std::to_string(shard.first) + ", +" + std::to_string(shard.count) +
           "), the even contiguous split gives [" + std::to_string(expected[i].first) + ", +" +
           std::to_string(expected[i].count) + ")");
    }
    if (shard.bytes < kShardHeaderBytes) fail(where + ".bytes is smaller than a shard header");
    if (!is_sha256_hex(shard.sha256)) fail(where + ".sha256 must be 64 lower-case hex digits");
  }
}

ordered_json manifest_to_json(const DatasetManifest& m) {
  validate(m);
  ordered_json out;
  out["format"] = std::string(kManifestFormat);
  out["dataset"] = m.dataset;
  ordered_json sources = ordered_json::array();
  for (const SourceFile& source : m.sources) {
    sources.push_back({{"name", source.name}, {"bytes", source.bytes}, {"sha256", source.sha256}});
  }
  out["sources"] = std::move(sources);
  out["generator"] = m.generator;
  out["features"] = {{"dtype", std::string(dtype_name(m.element_type))},
                     {"sample_shape", m.sample_shape}};
  out["labels"] = {{"dtype", std::string(dtype_name(m.label_type))},
                   {"classes", m.classes},
                   {"class_counts", m.class_counts}};
  out["count"] = m.count;
  out["shard_format"] = std::string(kShardFormat);
  out["tensor_format"] = std::string(kTensorFormat);
  out["compression_level"] = m.compression_level;
  ordered_json shards = ordered_json::array();
  for (const ManifestShard& shard : m.shards) {
    shards.push_back({{"key", shard.key},
                      {"first", shard.first},
                      {"count", shard.count},
                      {"bytes", shard.bytes},
                      {"sha256", shard.sha256}});
  }
  out["shards"] = std::move(shards);
  if (m.created) out["created"] = *m.created;
  return out;
}

DatasetManifest manifest_from_json(const json& in) {
  if (!in.is_object()) fail("the manifest must be a JSON object");
  const std::string format = string_at(in, "format", "");
  if (format != kManifestFormat) {
    fail("unsupported format \"" + format + "\" (this build reads " + std::string(kManifestFormat) +
         ")");
  }
  const std::string shard_format = string_at(in, "shard_format", "");
  if (shard_format != kShardFormat) fail("unsupported shard_format \"" + shard_format + "\"");
  const std::string tensor_format = string_at(in, "tensor_format", "");
  if (tensor_format != kTensorFormat) fail("unsupported tensor_format \"" + tensor_format + "\"");

  DatasetManifest m;
  m.dataset = string_at(in, "dataset", "");
  const json& sources = array_at(in, "sources", "");
  for (std::size_t i = 0; i < sources.size(); ++i) {
    const std::string path = "sources[" + std::to_string(i) + "].";
    if (!sources[i].is_object()) fail("sources[" + std::to_string(i) + "] must be an object");
    m.sources.push_back({string_at(sources[i], "name", path), u64_at(sources[i], "bytes", path),
                         string_at(sources[i], "sha256", path)});
  }
  m.generator = string_at(in, "generator", "");

  const json& features = object_at(in, "features", "");
  m.element_type = dtype_at(features, "dtype", "features.");
  const json& sample_shape = array_at(features, "sample_shape", "features.");
  if (sample_shape.size() > kTensorMaxRank) fail("features.sample_shape has too many dims");
  for (const json& dim : sample_shape)
    m.sample_shape.push_back(as_u64(dim, "features.sample_shape[]"));

  const json& labels = object_at(in, "labels", "");
  m.label_type = dtype_at(labels, "dtype", "labels.");
  const json& classes = array_at(labels, "classes", "labels.");
  const json& class_counts = array_at(labels, "class_counts", "labels.");
  // Bounded before copying: no manifest needs more classes than samples.
  if (classes.size() > 65536 || class_counts.size() > 65536) fail("labels: too many classes");
  for (const json& value : classes) {
    m.classes.push_back(static_cast<std::int32_t>(
        as_i64_in(value, std::numeric_limits<std::int32_t>::min(),
                  std::numeric_limits<std::int32_t>::max(), "labels.classes[]")));
  }
  for (const json& value : class_counts)
    m.class_counts.push_back(as_u64(value, "labels.class_counts[]"));

  m.count = u64_at(in, "count", "");
  m.compression_level =
      static_cast<int>(as_i64_in(member(in, "compression_level", ""), -1, 9, "compression_level"));

  const json& shards = array_at(in, "shards", "");
  if (shards.size() > kMaxShards) fail("more than " + std::to_string(kMaxShards) + " shards");
  for (std::size_t i = 0; i < shards.size(); ++i) {
    const std::string path = "shards[" + std::to_string(i) + "].";
    if (!shards[i].is_object()) fail("shards[" + std::to_string(i) + "] must be an object");
    ManifestShard shard;
    shard.key = string_at(shards[i], "key", path);
    shard.first = u64_at(shards[i], "first", path);
    shard.count = u64_at(shards[i], "count", path);
    shard.bytes = u64_at(shards[i], "bytes", path);
    shard.sha256 = string_at(shards[i], "sha256", path);
    m.shards.push_back(std::move(shard));
  }
  if (in.contains("created")) m.created = string_at(in, "created", "");
  validate(m);
  return m;
}

std::string manifest_text(const DatasetManifest& manifest) {
  return manifest_to_json(manifest).dump(2) + "\n";
}

DatasetManifest parse_manifest(std::string_view text) {
  json parsed;
  try {
    parsed = json::parse(text);
  } catch (const json::exception& error) {
    fail(std::string("not valid JSON: ") + error.what());
  }
  return manifest_from_json(parsed);
}

std::uint64_t shard_decoded_bytes(const DatasetManifest& manifest, const ManifestShard& shard) {
  // Frame headers (8 bytes plus 8 per dim) and the values; validate() ruled out overflow for the
  // whole dataset, so a shard's share cannot overflow either.
  std::uint64_t features = shard.count * dtype_size(manifest.element_type);
  for (const std::uint64_t dim : manifest.sample_shape) features *= dim;
  const std::uint64_t feature_frame = 8 + 8 * (1 + manifest.sample_shape.size()) + features;
  const std::uint64_t label_frame = 8 + 8 + shard.count * dtype_size(manifest.label_type);
  return feature_frame + label_frame;
}

Shard open_shard(const DatasetManifest& manifest, std::size_t index,
                 std::string_view object_bytes) {
  if (index >= manifest.shards.size()) {
    fail("no shard " + std::to_string(index) + " (the dataset has " +
         std::to_string(manifest.shards.size()) + ")");
  }
  const ManifestShard& entry = manifest.shards[index];
  const std::string where =
      std::string(kShardFormat) + ": " + manifest.dataset + "/" + entry.key + ": ";
  if (object_bytes.size() != entry.bytes) {
    throw ShardFormatError(where + "the object has " + std::to_string(object_bytes.size()) +
                           " bytes, the manifest says " + std::to_string(entry.bytes));
  }
  if (sha256_hex(object_bytes) != entry.sha256) {
    throw ShardFormatError(where +
                           "SHA-256 mismatch: the object is not the one the manifest lists");
  }
  Shard shard;
  try {
    shard = decode_shard(object_bytes, shard_decoded_bytes(manifest, entry));
  } catch (const ShardFormatError& error) {
    throw ShardFormatError(where + error.what());
  }
  std::vector<std::uint64_t> feature_shape = {entry.count};
  feature_shape.insert(feature_shape.end(), manifest.sample_shape.begin(),
                       manifest.sample_shape.end());
  if (shard.features.dtype != manifest.element_type || shard.features.shape != feature_shape ||
      shard.labels.dtype != manifest.label_type || shard.labels.shape.size() != 1 ||
      shard.labels.shape[0] != entry.count) {
    throw ShardFormatError(where + "dtypes or shapes disagree with the manifest");
  }
  for (const std::int32_t label : shard.labels.i32) {
    if (!std::binary_search(manifest.classes.begin(), manifest.classes.end(), label)) {
      throw ShardFormatError(where + "label " + std::to_string(label) +
                             " is not one of the classes");
    }
  }
  return shard;
}

}  // namespace stratus::ml
