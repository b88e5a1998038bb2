#pragma once
// The checksums S3 accepts and returns (x-amz-checksum-*, ChecksumXXX elements) and the MD5 that
// S3 ETags are made of. Digests are the raw big-endian bytes S3 puts in base64 on the wire, e.g.
// CRC32 of "" is "AAAAAA==".

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX, kept out of every includer

namespace stratus {

enum class ChecksumAlgorithm { crc32, crc32c, crc64nvme, sha1, sha256 };

// "CRC32", "crc32c", "Crc64Nvme", ... (the x-amz-sdk-checksum-algorithm / ChecksumAlgorithm value,
// case-insensitive). nullopt for anything else.
std::optional<ChecksumAlgorithm> checksum_algorithm_from_name(std::string_view name);
// "x-amz-checksum-crc32", "X-Amz-Checksum-CRC64NVME", ... (case-insensitive). nullopt otherwise,
// including for other x-amz-checksum-* headers such as x-amz-checksum-type.
std::optional<ChecksumAlgorithm> checksum_algorithm_from_header(std::string_view header_name);
std::string_view checksum_algorithm_name(ChecksumAlgorithm algorithm);  // "CRC64NVME"
std::string_view checksum_header_name(ChecksumAlgorithm algorithm);  // "x-amz-checksum-crc64nvme"
std::string_view checksum_xml_element(ChecksumAlgorithm algorithm);  // "ChecksumCRC64NVME"
// Raw digest size in bytes (4, 4, 8, 20, 32): a well-formed header value is its base64.
std::size_t checksum_digest_size(ChecksumAlgorithm algorithm);

// Incremental checksum. Copyable (a copy continues independently, e.g. to checksum a prefix and the
// whole from one pass) and movable. digest() finalises: later digest() calls return the same bytes
// and update() after it throws std::logic_error.
class Checksum {
 public:
  explicit Checksum(ChecksumAlgorithm algorithm);
  ~Checksum();
  Checksum(const Checksum& other);
  Checksum& operator=(const Checksum& other);
  Checksum(Checksum&& other) noexcept;
  Checksum& operator=(Checksum&& other) noexcept;

  ChecksumAlgorithm algorithm() const { return algorithm_; }
  void update(const void* data, std::size_t n);
  void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }
  std::string digest();  // raw big-endian bytes, as S3 sends them (base64-encoded)
  std::string digest_base64();

 private:
  struct EvpDeleter {
    void operator()(evp_md_ctx_st* ctx) const;
  };
  ChecksumAlgorithm algorithm_;
  std::uint64_t crc_ = 0;                           // CRC register between updates
  std::unique_ptr<evp_md_ctx_st, EvpDeleter> evp_;  // SHA-1 / SHA-256 only
  std::optional<std::string> digest_;               // set once finalised
};

// MD5, for ETags: a single-part ETag is the hex MD5 of the body; a multipart ETag is the hex MD5 of
// the concatenated raw part digests, then "-<part count>".
class Md5 {
 public:
  Md5();
  ~Md5();
  Md5(Md5&& other) noexcept;
  Md5& operator=(Md5&& other) noexcept;

  void update(const void* data, std::size_t n);
  void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }
  std::string digest();  // 16 raw bytes; finalises like Checksum::digest()
  std::string hex();     // 32 lower-case hex digits of digest()

 private:
  struct EvpDeleter {
    void operator()(evp_md_ctx_st* ctx) const;
  };
  std::unique_ptr<evp_md_ctx_st, EvpDeleter> evp_;
  std::optional<std::string> digest_;
};

}  // namespace stratus
