#include "stratus/trainer/shard.hpp"

#include <span>

namespace stratus::trainer {

namespace {

template <typename Value>
std::span<const std::byte> slice(const std::vector<Value>& values, std::uint64_t first,
                                 std::uint64_t count) {
  return std::as_bytes(std::span<const Value>(values).subspan(static_cast<std::size_t>(first),
                                                              static_cast<std::size_t>(count)));
}

std::span<const std::byte> slice(const Tensor& tensor, std::uint64_t first, std::uint64_t count) {
  switch (tensor.dtype) {
    case DType::float32:
      return slice(tensor.f32, first, count);
    case DType::float64:
      return slice(tensor.f64, first, count);
    case DType::uint8:
      return slice(tensor.u8, first, count);
    case DType::int32:
      return slice(tensor.i32, first, count);
  }
  throw DatasetError("unknown dtype");
}

}  // namespace

std::string encode_shard(const LabeledData& data, ShardRange range, int compression_level) {
  const std::uint64_t total = data.count();
  if (range.count == 0 || range.first > total || range.count > total - range.first) {
    throw DatasetError("shard range [" + std::to_string(range.first) + ", +" +
                       std::to_string(range.count) + ") is outside the " + std::to_string(total) +
                       " samples");
  }
  const std::uint64_t per_sample = data.sample_elements();
  // Structure only (data.validate() also checks every label, once, in plan_stage): enough to make
  // the slices below safe.
  std::uint64_t elements = 0;
  if (data.features.shape.size() < 2 || __builtin_mul_overflow(total, per_sample, &elements) ||
      data.features.size() != elements || data.labels.shape.size() != 1 ||
      data.labels.size() != total) {
    throw DatasetError("cannot shard inconsistent data (see LabeledData::validate)");
  }
  std::vector<std::uint64_t> feature_shape = data.features.shape;
  feature_shape[0] = range.count;
  const std::uint64_t label_shape[] = {range.count};

  const TensorView features{
      data.features.dtype, feature_shape,
      slice(data.features, range.first * per_sample, range.count * per_sample)};
  const TensorView labels{data.labels.dtype, label_shape,
                          slice(data.labels, range.first, range.count)};
  try {
    return stratus::encode_shard(features, labels, compression_level);
  } catch (const ShardFormatError& error) {
    throw DatasetError(error.what());
  }
}

}  // namespace stratus::trainer
