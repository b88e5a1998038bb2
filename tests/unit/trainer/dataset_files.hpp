#pragma once
// Test helpers: tiny datasets in the real on-disk formats (MNIST IDX, plain or gzip; CIFAR-10
// binary batches), written independently of the readers under test. Pixel values follow a simple
// formula, so tests can predict every byte.

#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace stratus::test {

namespace fs = std::filesystem;

inline std::uint8_t pixel_value(std::uint64_t sample, std::uint64_t index) {
  return static_cast<std::uint8_t>((sample * 31 + index * 7 + (index >> 5)) & 0xff);
}

inline std::uint8_t digit_label(std::uint64_t sample) {
  return static_cast<std::uint8_t>((sample * 7 + 3) % 10);
}

inline void put_be32(std::string& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(value >> shift));
}

// An IDX file: magic 0x0000TTDD (TT = element type, DD = number of dims), big-endian dims, payload.
inline std::string idx_file(std::uint8_t type, const std::vector<std::uint32_t>& dims,
                            std::string_view payload) {
  std::string out;
  out.push_back(0);
  out.push_back(0);
  out.push_back(static_cast<char>(type));
  out.push_back(static_cast<char>(dims.size()));
  for (const std::uint32_t dim : dims) put_be32(out, dim);
  out.append(payload);
  return out;
}

inline std::string mnist_images(std::uint32_t count, std::uint32_t rows = 28,
                                std::uint32_t cols = 28) {
  std::string pixels;
  pixels.reserve(std::size_t{count} * rows * cols);
  for (std::uint32_t i = 0; i < count; ++i) {
    for (std::uint32_t p = 0; p < rows * cols; ++p)
      pixels.push_back(static_cast<char>(pixel_value(i, p)));
  }
  return idx_file(0x08, {count, rows, cols}, pixels);
}

inline std::string mnist_labels(std::uint32_t count) {
  std::string labels;
  for (std::uint32_t i = 0; i < count; ++i) labels.push_back(static_cast<char>(digit_label(i)));
  return idx_file(0x08, {count}, labels);
}

// A CIFAR-10 batch: per record 1 label byte, then R, G, B planes of 32x32.
inline std::string cifar_batch(std::uint32_t count, std::uint32_t first_sample = 0) {
  std::string out;
  out.reserve(std::size_t{count} * 3073);
  for (std::uint32_t i = 0; i < count; ++i) {
    out.push_back(static_cast<char>(digit_label(first_sample + i)));
    for (std::uint32_t p = 0; p < 3072; ++p)
      out.push_back(static_cast<char>(pixel_value(first_sample + i, p)));
  }
  return out;
}

// RFC 1952 gzip via zlib (windowBits 16 + 15).
inline std::string gzip(std::string_view raw, int level = 6) {
  z_stream stream{};
  if (deflateInit2(&stream, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2");
  }
  std::string out(deflateBound(&stream, static_cast<uLong>(raw.size())) + 64, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  stream.avail_in = static_cast<uInt>(raw.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int status = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (status != Z_STREAM_END) throw std::runtime_error("deflate");
  return out;
}

inline fs::path write_file(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
  return path;
}

inline std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  explicit TempDir(std::string_view tag) {
    std::random_device random;
    path_ = fs::temp_directory_path() / ("stratus-" + std::string(tag) + "-" +
                                         std::to_string(random()) + std::to_string(random()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(std::string_view name) const { return path_ / std::string(name); }

 private:
  fs::path path_;
};

}  // namespace stratus::test
