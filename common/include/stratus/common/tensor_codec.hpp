#pragma once
// `stratus-tensor/1`: the wire format for dense tensors in function payloads (gradient_z and
// later workloads). A tensor travels as base64(zlib(raw)), where raw is, all little-endian:
//
//   offset 0  magic    "STRT" (4 bytes)
//          4  version  u8 = 1
//          5  dtype    u8: 1 = float32, 2 = float64
//          6  rank     u8: 0..4
//          7  reserved u8 = 0
//          8  dims     rank x u64
//             data     product(dims) elements of dtype, row-major
//
// Values round-trip bit-exactly (NaN payloads and signed zeros included): the codec copies bytes,
// it never converts. decode_tensor() treats its input as hostile: every field is validated, the
// declared size is checked against the caller's bound before anything is allocated, and inflation
// stops as soon as the stream would produce more than the header announced.

#include <cstdint>
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

enum class DType : std::uint8_t { float32 = 1, float64 = 2 };

std::string_view dtype_name(DType dtype);
std::size_t dtype_size(DType dtype);

// A dense row-major tensor. Exactly one of f32/f64 holds the values, the one matching dtype; the
// other stays empty. Separate storage (rather than widening everything to double) is what keeps
// float32 data at 4 bytes per value on the wire and bit-exact through a round trip.
struct Tensor {
  DType dtype = DType::float64;
  std::vector<std::uint64_t> shape;  // empty = scalar (one element)
  std::vector<float> f32;
  std::vector<double> f64;

  static Tensor of_f32(std::vector<std::uint64_t> shape, std::vector<float> values);
  static Tensor of_f64(std::vector<std::uint64_t> shape, std::vector<double> values);

  std::size_t rank() const { return shape.size(); }
  // Number of values the tensor holds (of whichever dtype).
  std::size_t size() const { return dtype == DType::float32 ? f32.size() : f64.size(); }
};

// Malformed, hostile or out-of-bounds tensor text, or a Tensor that cannot be encoded. The message
// says which check failed.
class TensorFormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws TensorFormatError when the tensor is inconsistent (rank > 4, product(shape) != number of
// values, values stored for the wrong dtype) or compression_level is outside -1..9.
std::string encode_tensor(const Tensor& tensor,
                          int compression_level = kTensorDefaultCompressionLevel);
std::string encode_tensor(std::span<const std::uint64_t> shape, std::span<const float> values,
                          int compression_level = kTensorDefaultCompressionLevel);
std::string encode_tensor(std::span<const std::uint64_t> shape, std::span<const double> values,
                          int compression_level = kTensorDefaultCompressionLevel);

// max_decoded_bytes bounds the raw (decompressed) size, header included; a tensor announcing more
// is refused before any allocation, and a stream inflating past what it announced is refused after
// at most one extra byte. Throws TensorFormatError on any violation.
Tensor decode_tensor(std::string_view base64_text, std::uint64_t max_decoded_bytes);

}  // namespace stratus
