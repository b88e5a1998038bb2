#pragma once
// Internal: reads a dataset file front to back, plain or gzip, hashing the stored bytes as they go
// by and keeping the offset every error message names. The readers on top of it never seek and
// never trust a size they have not seen bytes for.

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stratus/trainer/labeled_data.hpp"

struct evp_md_ctx_st;
struct z_stream_s;

namespace stratus::trainer::detail {

// Streaming SHA-256 (OpenSSL EVP).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, std::size_t size);
  std::string hex();  // finalises

 private:
  evp_md_ctx_st* context_;
};

class SourceReader {
 public:
  // Opens `path`. A file starting with the gzip magic (1f 8b) is inflated, whatever its name; a
  // file named *.gz that does not start with it is refused.
  explicit SourceReader(std::filesystem::path path);
  ~SourceReader();
  SourceReader(const SourceReader&) = delete;
  SourceReader& operator=(const SourceReader&) = delete;

  bool gzip() const { return gzip_ != nullptr; }
  // Position in the (decompressed) stream: the offset error messages name.
  std::uint64_t offset() const { return offset_; }
  // Size of the stored file; for a plain file also the size of the stream.
  std::uint64_t stored_size() const { return stored_size_; }

  // Up to `size` bytes; fewer only at the end of the stream.
  std::size_t read(void* destination, std::size_t size);
  // Exactly `size` bytes, or a "truncated" error naming `what` and how much was there.
  void read_exact(void* destination, std::size_t size, std::string_view what);
  // Appends exactly `count` values of `what` to `out`, growing it with the data that actually
  // arrives (never by what a header claims), so a lying header costs no memory.
  void read_into(std::vector<std::uint8_t>& out, std::uint64_t count, std::string_view what);
  // True when the stream has no more bytes (for gzip: the last member ended with a valid CRC).
  bool at_end();
  // Refuses anything after the expected end of the data.
  void expect_end(std::string_view after_what);

  // "<path>: offset <n>: <message>", with "(decompressed)" after the offset for gzip files.
  [[noreturn]] void fail_at(std::uint64_t offset, const std::string& message) const;
  [[noreturn]] void fail(const std::string& message) const { fail_at(offset_, message); }

  // Name, stored size and SHA-256 of the whole stored file; call after expect_end().
  SourceFile finish();

  const std::filesystem::path& path() const { return path_; }

 private:
  std::size_t read_stored(void* destination, std::size_t size);
  std::size_t read_gzip(unsigned char* destination, std::size_t size);
  bool refill_input();

  std::filesystem::path path_;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file_;
  std::uint64_t stored_size_ = 0;
  std::uint64_t stored_read_ = 0;
  std::uint64_t offset_ = 0;
  Sha256 sha256_;
  std::optional<unsigned char> peeked_;
  // gzip state
  std::unique_ptr<z_stream_s> gzip_;
  std::vector<unsigned char> input_;
  bool member_ended_ = false;
  std::uint64_t member_start_ = 0;   // compressed offset of the current member if not the first
  std::uint64_t member_output_ = 0;  // bytes the current member has produced
  bool stored_eof_ = false;
};

// Grows `out` by whole pieces while data keeps arriving: reading n bytes costs at most about
// twice n of memory, whatever n a header announced.
inline constexpr std::size_t kFirstReadPiece = std::size_t{1} << 20;

}  // namespace stratus::trainer::detail
