#pragma once
// `stratus-tensor/1`: the wire format for dense tensors in function payloads (gradient_z and
// later workloads) and, without the base64 layer, in objects (dataset shards in S3). The raw
// frame is, all little-endian:
//
//   offset 0  magic    "STRT" (4 bytes)
//          4  version  u8 = 1
//          5  dtype    u8: 1 = float32, 2 = float64, 3 = uint8, 4 = int32
//          6  rank     u8: 0..4
//          7  reserved u8 = 0
//          8  dims     rank x u64
//             data     product(dims) elements of dtype, row-major
//
// The binary form is zlib(raw frame) (RFC 1950: deflate plus an adler32 of the raw frame); the text
// form used inside JSON is base64 of exactly those bytes. Codes 3 and 4 were appended later: every
// float32/float64 tensor still encodes and decodes byte for byte as before.
//
// Values round-trip bit-exactly (NaN payloads and signed zeros included): the codec copies bytes,
// it never converts. Decoding treats its input as hostile: every field is validated, the declared
// size is checked against the caller's bound before anything is allocated, and inflation stops as
// soon as the stream would produce more than the header announced.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace stratus {

inline constexpr std::string_view kTensorFormat = "stratus-tensor/1";
inline constexpr std::size_t kTensorMaxRank = 4;
// Speed over ratio: float training data hardly compresses beyond what level 1 already gets.
inline constexpr int kTensorDefaultCompressionLevel = 1;

enum class DType : std::uint8_t { float32 = 1, float64 = 2, uint8 = 3, int32 = 4 };

// "float32", "float64", "uint8", "int32".
std::string_view dtype_name(DType dtype);
// The inverse of dtype_name; nullopt for anything else.
std::optional<DType> dtype_from_name(std::string_view name);
std::size_t dtype_size(DType dtype);

// A dense row-major tensor. Exactly one of f32/f64/u8/i32 holds the values, the one matching
// dtype; the others stay empty. Separate storage (rather than widening everything to double) is
// what keeps float32 data at 4 bytes and image pixels at 1 byte per value, and bit-exact through a
// round trip.
struct Tensor {
  DType dtype = DType::float64;
  std::vector<std::uint64_t> shape;  // empty = scalar (one element)
  std::vector<float> f32;
  std::vector<double> f64;
  std::vector<std::uint8_t> u8;
  std::vector<std::int32_t> i32;

  static Tensor of_f32(std::vector<std::uint64_t> shape, std::vector<float> values);
  static Tensor of_f64(std::vector<std::uint64_t> shape, std::vector<double> values);
  static Tensor of_u8(std::vector<std::uint64_t> shape, std::vector<std::uint8_t> values);
  static Tensor of_i32(std::vector<std::uint64_t> shape, std::vector<std::int32_t> values);

  std::size_t rank() const { return shape.size(); }
  // Number of values the tensor holds (of whichever dtype).
  std::size_t size() const;
};

// A non-owning view of a tensor's values, so that a slice of a larger buffer (one shard of a
// dataset) can be encoded without copying it first. `values` holds the elements in native byte
// order; the encoder writes them little-endian.
struct TensorView {
  DType dtype = DType::float32;
  std::span<const std::uint64_t> shape;
  std::span<const std::byte> values;

  static TensorView of(std::span<const std::uint64_t> shape, std::span<const float> values);
  static TensorView of(std::span<const std::uint64_t> shape, std::span<const double> values);
  static TensorView of(std::span<const std::uint64_t> shape, std::span<const std::uint8_t> values);
  static TensorView of(std::span<const std::uint64_t> shape, std::span<const std::int32_t> values);
  // Throws TensorFormatError when the tensor holds values for another dtype than its own.
  static TensorView of(const Tensor& tensor);
};

// Malformed, hostile or out-of-bounds tensor text or bytes, or a tensor that cannot be encoded.
// The message starts with "stratus-tensor/1: " and says which check failed.
class TensorFormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Text form (base64). Throws TensorFormatError when the tensor is inconsistent (rank > 4,
// product(shape) != number of values, values stored for the wrong dtype) or compression_level is
// outside -1..9.
std::string encode_tensor(const Tensor& tensor,
                          int compression_level = kTensorDefaultCompressionLevel);
std::string encode_tensor(const TensorView& tensor,
                          int compression_level = kTensorDefaultCompressionLevel);
std::string encode_tensor(std::span<const std::uint64_t> shape, std::span<const float> values,
                          int compression_level = kTensorDefaultCompressionLevel);
std::string encode_tensor(std::span<const std::uint64_t> shape, std::span<const double> values,
                          int compression_level = kTensorDefaultCompressionLevel);

// Binary form: the same zlib stream without base64, for objects. Same checks as encode_tensor.
// The output depends only on the tensor, the level and the zlib build: the same input gives the
// same bytes on every run.
std::string encode_tensor_binary(const Tensor& tensor,
                                 int compression_level = kTensorDefaultCompressionLevel);
std::string encode_tensor_binary(const TensorView& tensor,
                                 int compression_level = kTensorDefaultCompressionLevel);

// max_decoded_bytes bounds the raw (decompressed) size, header included; a tensor announcing more
// is refused before any allocation, and a stream inflating past what it announced is refused after
// at most one extra byte. Throws TensorFormatError on any violation.
Tensor decode_tensor(std::string_view base64_text, std::uint64_t max_decoded_bytes);
Tensor decode_tensor_binary(std::string_view bytes, std::uint64_t max_decoded_bytes);

}  // namespace stratus
