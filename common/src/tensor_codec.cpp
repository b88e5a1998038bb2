#include "stratus/common/tensor_codec.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <limits>

#include "stratus/common/base64.hpp"

namespace stratus {
namespace {

constexpr std::array<unsigned char, 4> kMagic = {'S', 'T', 'R', 'T'};
constexpr std::uint8_t kVersion = 1;
constexpr std::size_t kFixedHeaderBytes = 8;
constexpr std::size_t kDimBytes = 8;
// zlib counts in uInt (32 bits); larger buffers are handed over in pieces of this size.
constexpr std::size_t kMaxZlibChunk = std::size_t{1} << 30;

[[noreturn]] void fail(const std::string& message) {
  throw TensorFormatError(std::string(kTensorFormat) + ": " + message);
}

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
  const std::uint64_t sum = a + b;
  return sum < a ? std::numeric_limits<std::uint64_t>::max() : sum;
}

// false on overflow.
bool checked_multiply(std::uint64_t a, std::uint64_t b, std::uint64_t& product) {
  return !__builtin_mul_overflow(a, b, &product);
}

std::string shape_text(std::span<const std::uint64_t> shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i != 0) text += ",";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

// Turns `count` elements of `size` bytes each around in place (big-endian hosts only).
void reverse_bytes_of_each(unsigned char* bytes, std::size_t count, std::size_t size) {
  if (size == 1) return;
  for (std::size_t i = 0; i < count; ++i) std::reverse(bytes + i * size, bytes + (i + 1) * size);
}

// Streams input into one zlib stream, growing the output string as needed. Feeding the data in
// place avoids a second copy of a possibly large tensor.
class Deflater {
 public:
  Deflater(int level, std::size_t expected_input) {
    if (deflateInit(&stream_, level) != Z_OK)
      fail("cannot initialise zlib (level " + std::to_string(level) + ")");
    output_.resize(deflateBound(&stream_, static_cast<uLong>(expected_input)));
  }
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;
  ~Deflater() { deflateEnd(&stream_); }

  void write(const void* data, std::size_t size) { deflate_all(data, size, Z_NO_FLUSH); }

  std::string finish() {
    deflate_all(nullptr, 0, Z_FINISH);
    output_.resize(produced_);
    return std::move(output_);
  }

 private:
  void deflate_all(const void* data, std::size_t size, int final_flush) {
    const auto* next = static_cast<const unsigned char*>(data);
    do {
      const std::size_t chunk = std::min(size, kMaxZlibChunk);
      stream_.next_in = const_cast<Bytef*>(next);
      stream_.avail_in = static_cast<uInt>(chunk);
      next += chunk;
      size -= chunk;
      const int flush = size == 0 ? final_flush : Z_NO_FLUSH;
      for (;;) {
        if (produced_ == output_.size()) output_.resize(output_.size() * 2 + 4096);
        const std::size_t room = std::min(output_.size() - produced_, kMaxZlibChunk);
        stream_.next_out = reinterpret_cast<Bytef*>(output_.data() + produced_);
        stream_.avail_out = static_cast<uInt>(room);
        const int status = deflate(&stream_, flush);
        produced_ += room - stream_.avail_out;
        if (status == Z_STREAM_END) break;
        if (status != Z_OK && status != Z_BUF_ERROR) fail("zlib deflate failed");
        if (flush != Z_FINISH && stream_.avail_in == 0) break;
      }
    } while (size > 0);
  }

  z_stream stream_{};
  std::string output_;
  std::size_t produced_ = 0;
};

// Inflates a complete in-memory zlib stream in exact-size steps, so the caller decides how much
// output it accepts before it allocates anything.
class Inflater {
 public:
  explicit Inflater(std::string_view compressed) : unread_(compressed) {
    if (inflateInit(&stream_) != Z_OK) fail("cannot initialise zlib");
  }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  ~Inflater() { inflateEnd(&stream_); }

  // Produces exactly `size` bytes or throws, naming `what` was being read.
  void read_exact(void* destination, std::size_t size, std::string_view what) {
    auto* out = static_cast<unsigned char*>(destination);
    while (size > 0) {
      if (ended_) fail(std::string(what) + " is cut short: the stream ends before it");
      refill_input();
      const std::size_t room = std::min(size, kMaxZlibChunk);
      stream_.next_out = out;
      stream_.avail_out = static_cast<uInt>(room);
      const int status = inflate(&stream_, Z_NO_FLUSH);
      const std::size_t produced = room - stream_.avail_out;
      out += produced;
      size -= produced;
      check_status(status, what);
    }
  }

  // The stream must end exactly here: no further output, a valid checksum, no bytes after it.
  void expect_end() {
    while (!ended_) {
      refill_input();
      unsigned char extra = 0;
      stream_.next_out = &extra;
      stream_.avail_out = 1;
      const int status = inflate(&stream_, Z_NO_FLUSH);
      if (stream_.avail_out == 0) {
        fail("the stream holds more data than its header announces (dims x dtype size)");
      }
      check_status(status, "the checksum at the end of the stream");
    }
    if (stream_.avail_in != 0 || !unread_.empty()) {
      fail("unexpected bytes after the end of the compressed stream");
    }
  }

 private:
  void refill_input() {
    if (stream_.avail_in != 0 || unread_.empty()) return;
    const std::size_t chunk = std::min(unread_.size(), kMaxZlibChunk);
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(unread_.data()));
    stream_.avail_in = static_cast<uInt>(chunk);
    unread_.remove_prefix(chunk);
  }

  void check_status(int status, std::string_view what) {
    switch (status) {
      case Z_OK:
        return;
      case Z_STREAM_END:
        ended_ = true;
        return;
      case Z_BUF_ERROR:
        // No progress was possible: every input byte is consumed and more output was wanted.
        fail("truncated: the compressed stream ends inside " + std::string(what));
      case Z_NEED_DICT:
        fail("the stream asks for a preset dictionary, which this format never uses");
      case Z_DATA_ERROR:
        fail(std::string("corrupt compressed data (") +
             (stream_.msg != nullptr ? stream_.msg : "invalid deflate stream") + ")");
      case Z_MEM_ERROR:
        fail("out of memory while inflating");
      default:
        fail("zlib inflate failed with status " + std::to_string(status));
    }
  }

  z_stream stream_{};
  std::string_view unread_;
  bool ended_ = false;
};

bool valid_dtype_code(std::uint8_t code) {
  return code >= static_cast<std::uint8_t>(DType::float32) &&
         code <= static_cast<std::uint8_t>(DType::int32);
}

std::string header_bytes(DType dtype, std::span<const std::uint64_t> shape) {
  std::string header;
  header.reserve(kFixedHeaderBytes + kDimBytes * shape.size());
  header.append(reinterpret_cast<const char*>(kMagic.data()), kMagic.size());
  header.push_back(static_cast<char>(kVersion));
  header.push_back(static_cast<char>(dtype));
  header.push_back(static_cast<char>(shape.size()));
  header.push_back('\0');
  for (const std::uint64_t dim : shape) {
    for (int byte = 0; byte < 8; ++byte) header.push_back(static_cast<char>(dim >> (8 * byte)));
  }
  return header;
}

std::string encode_frame(const TensorView& tensor, int compression_level) {
  const std::span<const std::uint64_t> shape = tensor.shape;
  if (!valid_dtype_code(static_cast<std::uint8_t>(tensor.dtype))) {
    fail("unknown dtype " + std::to_string(static_cast<unsigned>(tensor.dtype)));
  }
  if (shape.size() > kTensorMaxRank) {
    fail("rank " + std::to_string(shape.size()) + " exceeds the maximum of " +
         std::to_string(kTensorMaxRank));
  }
  if (compression_level < Z_DEFAULT_COMPRESSION || compression_level > Z_BEST_COMPRESSION) {
    fail("compression level " + std::to_string(compression_level) + " is outside -1..9");
  }
  std::uint64_t count = 1;
  for (const std::uint64_t dim : shape) {
    if (!checked_multiply(count, dim, count)) fail("shape " + shape_text(shape) + " overflows");
  }
  const std::size_t value_size = dtype_size(tensor.dtype);
  if (tensor.values.size() % value_size != 0 || count != tensor.values.size() / value_size) {
    fail("shape " + shape_text(shape) + " holds " + std::to_string(count) + " values but " +
         std::to_string(tensor.values.size() / value_size) + " were given");
  }

  const std::string header = header_bytes(tensor.dtype, shape);
  const std::size_t data_bytes = tensor.values.size();
  Deflater deflater(compression_level, header.size() + data_bytes);
  deflater.write(header.data(), header.size());
  if (std::endian::native == std::endian::little || value_size == 1) {
    deflater.write(tensor.values.data(), data_bytes);
  } else {
    constexpr std::size_t kPieceBytes = 64 * 1024;
    std::vector<unsigned char> piece;
    for (std::size_t first = 0; first < data_bytes; first += kPieceBytes) {
      const std::size_t n = std::min(kPieceBytes, data_bytes - first);
      const auto* begin = reinterpret_cast<const unsigned char*>(tensor.values.data()) + first;
      piece.assign(begin, begin + n);
      reverse_bytes_of_each(piece.data(), n / value_size, value_size);
      deflater.write(piece.data(), n);
    }
  }
  return deflater.finish();
}

// Memory grows with the data the stream actually delivers (at most twice that), not with what the
// header claims: a short stream behind a header announcing gigabytes costs next to nothing.
template <typename Value>
void inflate_values(Inflater& inflater, std::vector<Value>& values, std::size_t count) {
  constexpr std::size_t kFirstPieceValues = (std::size_t{1} << 20) / sizeof(Value);
  std::size_t filled = 0;
  while (filled < count) {
    const std::size_t target = std::min(count, std::max(kFirstPieceValues, filled * 2));
    values.resize(target);
    inflater.read_exact(values.data() + filled, (target - filled) * sizeof(Value),
                        "the tensor data");
    filled = target;
  }
  if constexpr (std::endian::native != std::endian::little) {
    reverse_bytes_of_each(reinterpret_cast<unsigned char*>(values.data()), count, sizeof(Value));
  }
}

// The longest compressed stream accepted for a raw size bound: zlib's own worst case (stored
// blocks) is about raw + raw/1000 + 13, so this leaves room for other encoders while refusing to
// even base64-decode absurdly long text.
std::uint64_t max_compressed_bytes(std::uint64_t max_decoded_bytes) {
  return saturating_add(saturating_add(max_decoded_bytes, max_decoded_bytes / 16), 4096);
}

}  // namespace

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::float32:
      return "float32";
    case DType::float64:
      return "float64";
    case DType::uint8:
      return "uint8";
    case DType::int32:
      return "int32";
  }
  return "unknown";
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const DType dtype : {DType::float32, DType::float64, DType::uint8, DType::int32}) {
    if (name == dtype_name(dtype)) return dtype;
  }
  return std::nullopt;
}

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::float32:
      return sizeof(float);
    case DType::float64:
      return sizeof(double);
    case DType::uint8:
      return sizeof(std::uint8_t);
    case DType::int32:
      return sizeof(std::int32_t);
  }
  return 0;
}

std::size_t Tensor::size() const {
  switch (dtype) {
    case DType::float32:
      return f32.size();
    case DType::float64:
      return f64.size();
    case DType::uint8:
      return u8.size();
    case DType::int32:
      return i32.size();
  }
  return 0;
}

Tensor Tensor::of_f32(std::vector<std::uint64_t> shape, std::vector<float> values) {
  Tensor tensor;
  tensor.dtype = DType::float32;
  tensor.shape = std::move(shape);
  tensor.f32 = std::move(values);
  return tensor;
}

Tensor Tensor::of_f64(std::vector<std::uint64_t> shape, std::vector<double> values) {
  Tensor tensor;
  tensor.dtype = DType::float64;
  tensor.shape = std::move(shape);
  tensor.f64 = std::move(values);
  return tensor;
}

Tensor Tensor::of_u8(std::vector<std::uint64_t> shape, std::vector<std::uint8_t> values) {
  Tensor tensor;
  tensor.dtype = DType::uint8;
  tensor.shape = std::move(shape);
  tensor.u8 = std::move(values);
  return tensor;
}

Tensor Tensor::of_i32(std::vector<std::uint64_t> shape, std::vector<std::int32_t> values) {
  Tensor tensor;
  tensor.dtype = DType::int32;
  tensor.shape = std::move(shape);
  tensor.i32 = std::move(values);
  return tensor;
}

TensorView TensorView::of(std::span<const std::uint64_t> shape, std::span<const float> values) {
  return {DType::float32, shape, std::as_bytes(values)};
}

TensorView TensorView::of(std::span<const std::uint64_t> shape, std::span<const double> values) {
  return {DType::float64, shape, std::as_bytes(values)};
}

TensorView TensorView::of(std::span<const std::uint64_t> shape,
                          std::span<const std::uint8_t> values) {
  return {DType::uint8, shape, std::as_bytes(values)};
}

TensorView TensorView::of(std::span<const std::uint64_t> shape,
                          std::span<const std::int32_t> values) {
  return {DType::int32, shape, std::as_bytes(values)};
}

TensorView TensorView::of(const Tensor& tensor) {
  // Values stored for another dtype would silently vanish from the encoding: refuse them.
  const std::size_t stored =
      tensor.f32.size() + tensor.f64.size() + tensor.u8.size() + tensor.i32.size();
  if (stored != tensor.size()) {
    fail("a " + std::string(dtype_name(tensor.dtype)) +
         " tensor must not hold values of another dtype");
  }
  switch (tensor.dtype) {
    case DType::float32:
      return of(tensor.shape, std::span<const float>(tensor.f32));
    case DType::float64:
      return of(tensor.shape, std::span<const double>(tensor.f64));
    case DType::uint8:
      return of(tensor.shape, std::span<const std::uint8_t>(tensor.u8));
    case DType::int32:
      return of(tensor.shape, std::span<const std::int32_t>(tensor.i32));
  }
  fail("unknown dtype " + std::to_string(static_cast<unsigned>(tensor.dtype)));
}

std::string encode_tensor_binary(const TensorView& tensor, int compression_level) {
  return encode_frame(tensor, compression_level);
}

std::string encode_tensor_binary(const Tensor& tensor, int compression_level) {
  return encode_frame(TensorView::of(tensor), compression_level);
}

std::string encode_tensor(const TensorView& tensor, int compression_level) {
  return base64_encode(encode_frame(tensor, compression_level));
}

std::string encode_tensor(std::span<const std::uint64_t> shape, std::span<const float> values,
                          int compression_level) {
  return encode_tensor(TensorView::of(shape, values), compression_level);
}

std::string encode_tensor(std::span<const std::uint64_t> shape, std::span<const double> values,
                          int compression_level) {
  return encode_tensor(TensorView::of(shape, values), compression_level);
}

std::string encode_tensor(const Tensor& tensor, int compression_level) {
  return encode_tensor(TensorView::of(tensor), compression_level);
}

Tensor decode_tensor(std::string_view base64_text, std::uint64_t max_decoded_bytes) {
  // Base64 turns 3 bytes into 4 characters; anything longer cannot inflate to an allowed tensor.
  const std::uint64_t max_compressed = max_compressed_bytes(max_decoded_bytes);
  if (base64_text.size() / 4 > max_compressed / 3 + 1) {
    fail("the encoded text (" + std::to_string(base64_text.size()) +
         " characters) is longer than any tensor within the limit of " +
         std::to_string(max_decoded_bytes) + " bytes");
  }
  const std::optional<std::string> compressed = base64_decode(base64_text);
  if (!compressed) fail("the text is not valid base64 (standard alphabet, padded, no whitespace)");
  return decode_tensor_binary(*compressed, max_decoded_bytes);
}

Tensor decode_tensor_binary(std::string_view compressed, std::uint64_t max_decoded_bytes) {
  if (compressed.empty()) fail("empty payload");
  if (compressed.size() > max_compressed_bytes(max_decoded_bytes)) {
    fail("the compressed stream (" + std::to_string(compressed.size()) +
         " bytes) is longer than any tensor within the limit of " +
         std::to_string(max_decoded_bytes) + " bytes");
  }

  Inflater inflater(compressed);
  std::array<unsigned char, kFixedHeaderBytes> fixed{};
  inflater.read_exact(fixed.data(), fixed.size(), "the header");
  if (!std::equal(kMagic.begin(), kMagic.end(), fixed.begin())) {
    fail("bad magic (expected \"STRT\"): not a stratus-tensor payload");
  }
  if (fixed[4] != kVersion) {
    fail("unsupported version " + std::to_string(fixed[4]) + " (this build reads version 1)");
  }
  const std::uint8_t dtype_code = fixed[5];
  if (!valid_dtype_code(dtype_code)) {
    fail("unknown dtype code " + std::to_string(dtype_code) +
         " (1 = float32, 2 = float64, 3 = uint8, 4 = int32)");
  }
  const auto dtype = static_cast<DType>(dtype_code);
  const std::size_t rank = fixed[6];
  if (rank > kTensorMaxRank) {
    fail("rank " + std::to_string(rank) + " exceeds the maximum of " +
         std::to_string(kTensorMaxRank));
  }
  if (fixed[7] != 0) fail("the reserved header byte must be 0");

  std::array<unsigned char, kTensorMaxRank * kDimBytes> dim_bytes{};
  inflater.read_exact(dim_bytes.data(), rank * kDimBytes, "the dims");
  std::vector<std::uint64_t> shape(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    std::uint64_t dim = 0;
    for (std::size_t byte = 0; byte < kDimBytes; ++byte) {
      dim |= std::uint64_t{dim_bytes[i * kDimBytes + byte]} << (8 * byte);
    }
    shape[i] = dim;
  }

  // Sizes are checked with overflow detection before anything is allocated.
  std::uint64_t count = 1;
  std::uint64_t data_bytes = 0;
  std::uint64_t total_bytes = 0;
  bool overflow = false;
  for (const std::uint64_t dim : shape) overflow = overflow || !checked_multiply(count, dim, count);
  overflow = overflow || !checked_multiply(count, dtype_size(dtype), data_bytes);
  overflow = overflow ||
             __builtin_add_overflow(kFixedHeaderBytes + kDimBytes * rank, data_bytes, &total_bytes);
  if (overflow) {
    fail("dims " + shape_text(shape) + " of " + std::string(dtype_name(dtype)) +
         " describe more than 2^64 bytes");
  }
  if (total_bytes > max_decoded_bytes) {
    fail("dims " + shape_text(shape) + " of " + std::string(dtype_name(dtype)) + " need " +
         std::to_string(total_bytes) + " bytes, over the limit of " +
         std::to_string(max_decoded_bytes));
  }
  if (count > std::numeric_limits<std::size_t>::max() / 8) fail("tensor too large for memory");

  Tensor tensor;
  tensor.dtype = dtype;
  tensor.shape = std::move(shape);
  const auto n = static_cast<std::size_t>(count);
  switch (dtype) {
    case DType::float32:
      inflate_values(inflater, tensor.f32, n);
      break;
    case DType::float64:
      inflate_values(inflater, tensor.f64, n);
      break;
    case DType::uint8:
      inflate_values(inflater, tensor.u8, n);
      break;
    case DType::int32:
      inflate_values(inflater, tensor.i32, n);
      break;
  }
  inflater.expect_end();
  return tensor;
}

}  // namespace stratus
