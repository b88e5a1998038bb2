#include "stratus/common/checksum.hpp"

#include "stratus/common/hex.hpp"
#include "stratus/common/sha256.hpp"
#include "stratus/common/http_message.hpp"

#include <openssl/evp.h>
#include <zlib.h>

#include <bit>
#include <cstring>
#include <stdexcept>
#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#include "stratus/common/base64.hpp"

namespace stratus {
namespace {

// CRC-32C (Castagnoli) and CRC-64/NVME as S3 defines them: reflected in and out, all-ones initial
// value and final xor. Check values ("123456789"): 0xE3069283 and 0xAE8B14860A799888.
//
// Why not Boost.CRC here: its crc_optimal is a byte-at-a-time table loop, measured at ~380 MB/s for
// both on the 2-core dev machine, against ~1,700 MB/s for the slicing-by-8 loop below and
// ~6,700 MB/s for the SSE4.2 crc32 instruction (CRC-32C only). AWS CLI v2 sends CRC64NVME on every
// upload, so this runs over every byte stored. Boost.CRC stays the reference the unit tests compare
// against on random data.
constexpr std::uint32_t kCrc32cPoly = 0x82F63B78u;               // 0x1EDC6F41 reflected
constexpr std::uint64_t kCrc64NvmePoly = 0x9A6C9329AC4BC9B5ull;  // 0xAD93D23594C93659 reflected

// Tables for a reflected CRC: t[0] is the classic byte table; t[k][b] is the register change of
// byte b followed by k zero bytes, which lets the loop fold eight input bytes per step.
template <typename T, T kPoly>
struct SlicingTables {
  T t[8][256] = {};
  constexpr SlicingTables() {
    for (unsigned i = 0; i < 256; ++i) {
      T c = static_cast<T>(i);
      for (int bit = 0; bit < 8; ++bit) c = (c & 1) ? static_cast<T>((c >> 1) ^ kPoly) : (c >> 1);
      t[0][i] = c;
    }
    for (unsigned i = 0; i < 256; ++i) {
      for (int k = 1; k < 8; ++k)
        t[k][i] = static_cast<T>((t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFF]);
    }
  }
};

// `reg` is the live register (initial value already applied, final xor not yet).
template <typename T, T kPoly>
T crc_reflected_update(T reg, const unsigned char* p, std::size_t n) {
  static constexpr SlicingTables<T, kPoly> kTables;
  const auto& t = kTables.t;
  if constexpr (std::endian::native == std::endian::little) {
    while (n >= 8) {
      std::uint64_t v;
      std::memcpy(&v, p, 8);
      v ^= reg;  // a 32-bit register covers the low four input bytes only
      reg = static_cast<T>(t[7][v & 0xFF] ^ t[6][(v >> 8) & 0xFF] ^ t[5][(v >> 16) & 0xFF] ^
                           t[4][(v >> 24) & 0xFF] ^ t[3][(v >> 32) & 0xFF] ^
                           t[2][(v >> 40) & 0xFF] ^ t[1][(v >> 48) & 0xFF] ^ t[0][v >> 56]);
      p += 8;
      n -= 8;
    }
  }
  while (n-- > 0) reg = static_cast<T>((reg >> 8) ^ t[0][(reg ^ *p++) & 0xFF]);
  return reg;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t crc32c_sse42(std::uint32_t reg,
                                                             const unsigned char* p,
                                                             std::size_t n) {
  std::uint64_t r = reg;
  while (n >= 8) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    r = _mm_crc32_u64(r, v);
    p += 8;
    n -= 8;
  }
  auto r32 = static_cast<std::uint32_t>(r);
  while (n-- > 0) r32 = _mm_crc32_u8(r32, *p++);
  return r32;
}

bool cpu_has_sse42() {
  static const bool yes = __builtin_cpu_supports("sse4.2");
  return yes;
}
#endif

std::uint32_t crc32c_update(std::uint32_t reg, const unsigned char* p, std::size_t n) {
#if defined(__x86_64__)
  if (cpu_has_sse42()) return crc32c_sse42(reg, p, n);
#endif
  return crc_reflected_update<std::uint32_t, kCrc32cPoly>(reg, p, n);
}

struct AlgorithmNames {
  ChecksumAlgorithm algorithm;
  std::string_view name;
  std::string_view header;
  std::string_view element;
  std::size_t digest_size;
};

constexpr AlgorithmNames kAlgorithms[] = {
    {ChecksumAlgorithm::crc32, "CRC32", "x-amz-checksum-crc32", "ChecksumCRC32", 4},
    {ChecksumAlgorithm::crc32c, "CRC32C", "x-amz-checksum-crc32c", "ChecksumCRC32C", 4},
    {ChecksumAlgorithm::crc64nvme, "CRC64NVME", "x-amz-checksum-crc64nvme", "ChecksumCRC64NVME", 8},
    {ChecksumAlgorithm::sha1, "SHA1", "x-amz-checksum-sha1", "ChecksumSHA1", 20},
    {ChecksumAlgorithm::sha256, "SHA256", "x-amz-checksum-sha256", "ChecksumSHA256", 32},
};

const AlgorithmNames& names_of(ChecksumAlgorithm algorithm) {
  for (const auto& entry : kAlgorithms) {
    if (entry.algorithm == algorithm) return entry;
  }
  throw std::invalid_argument("unknown ChecksumAlgorithm value");
}

std::string big_endian(std::uint64_t value, std::size_t bytes) {
  std::string out(bytes, '\0');
  for (std::size_t i = 0; i < bytes; ++i) {
    out[bytes - 1 - i] = static_cast<char>(value & 0xFF);
    value >>= 8;
  }
  return out;
}

// Fetched once: with OpenSSL 3, initialising a digest from EVP_md5() and friends looks the
// implementation up again every time, which cost more than hashing a 4 KB object.
const EVP_MD* fetched_md(const char* name, const EVP_MD* fallback) {
  const EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  return md != nullptr ? md : fallback;
}

const EVP_MD* evp_md_of(ChecksumAlgorithm algorithm) {
  static const EVP_MD* const sha1 = fetched_md("SHA1", EVP_sha1());
  static const EVP_MD* const sha256 = fetched_md("SHA256", EVP_sha256());
  return algorithm == ChecksumAlgorithm::sha1 ? sha1 : sha256;
}

const EVP_MD* evp_md5() {
  static const EVP_MD* const md5 = fetched_md("MD5", EVP_md5());
  return md5;
}

// OpenSSL reports failures only for allocation or engine problems; neither is recoverable here.
void evp_check(int ok, const char* what) {
  if (ok != 1) throw std::runtime_error(std::string("OpenSSL ") + what + " failed");
}

EVP_MD_CTX* new_evp_ctx(const EVP_MD* md) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) throw std::bad_alloc();
  if (EVP_DigestInit_ex(ctx, md, nullptr) != 1) {
    EVP_MD_CTX_free(ctx);
    throw std::runtime_error("OpenSSL EVP_DigestInit_ex failed");
  }
  return ctx;
}

std::string evp_final(EVP_MD_CTX* ctx) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  evp_check(EVP_DigestFinal_ex(ctx, out, &n), "EVP_DigestFinal_ex");
  return std::string(reinterpret_cast<const char*>(out), n);
}

// crc32_z (not crc32) because its length is a z_size_t: a multi-GB span is not truncated to uInt.
std::uint32_t zlib_crc32(std::uint32_t crc, const unsigned char* p, std::size_t n) {
  return static_cast<std::uint32_t>(crc32_z(crc, p, static_cast<z_size_t>(n)));
}

}  // namespace

std::optional<ChecksumAlgorithm> checksum_algorithm_from_name(std::string_view name) {
  for (const auto& entry : kAlgorithms) {
    if (iequals(name, entry.name)) return entry.algorithm;
  }
  return std::nullopt;
}

std::optional<ChecksumAlgorithm> checksum_algorithm_from_header(std::string_view header_name) {
  for (const auto& entry : kAlgorithms) {
    if (iequals(header_name, entry.header)) return entry.algorithm;
  }
  return std::nullopt;
}

std::string_view checksum_algorithm_name(ChecksumAlgorithm algorithm) {
  return names_of(algorithm).name;
}
std::string_view checksum_header_name(ChecksumAlgorithm algorithm) {
  return names_of(algorithm).header;
}
std::string_view checksum_xml_element(ChecksumAlgorithm algorithm) {
  return names_of(algorithm).element;
}
std::size_t checksum_digest_size(ChecksumAlgorithm algorithm) {
  return names_of(algorithm).digest_size;
}

// --- Checksum ------------------------------------------------------------------------------------

void Checksum::EvpDeleter::operator()(evp_md_ctx_st* ctx) const {
  EVP_MD_CTX_free(ctx);
}

Checksum::Checksum(ChecksumAlgorithm algorithm) : algorithm_(algorithm) {
  switch (algorithm) {
    case ChecksumAlgorithm::crc32:
      crc_ = crc32_z(0, nullptr, 0);
      break;
    case ChecksumAlgorithm::crc32c:
      crc_ = 0xFFFFFFFFu;
      break;
    case ChecksumAlgorithm::crc64nvme:
      crc_ = ~0ull;
      break;
    case ChecksumAlgorithm::sha1:
    case ChecksumAlgorithm::sha256:
      evp_.reset(new_evp_ctx(evp_md_of(algorithm)));
      break;
    default:
      throw std::invalid_argument("unknown ChecksumAlgorithm value");
  }
}

Checksum::~Checksum() = default;
Checksum::Checksum(Checksum&& other) noexcept = default;
Checksum& Checksum::operator=(Checksum&& other) noexcept = default;

Checksum::Checksum(const Checksum& other)
    : algorithm_(other.algorithm_), crc_(other.crc_), digest_(other.digest_) {
  if (other.evp_) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    if (ctx == nullptr) throw std::bad_alloc();
    evp_.reset(ctx);
    evp_check(EVP_MD_CTX_copy_ex(ctx, other.evp_.get()), "EVP_MD_CTX_copy_ex");
  }
}

Checksum& Checksum::operator=(const Checksum& other) {
  if (this != &other) {
    Checksum copy(other);
    *this = std::move(copy);
  }
  return *this;
}

void Checksum::update(const void* data, std::size_t n) {
  if (digest_) throw std::logic_error("Checksum::update after digest()");
  if (n == 0) return;
  const auto* p = static_cast<const unsigned char*>(data);
  switch (algorithm_) {
    case ChecksumAlgorithm::crc32:
      crc_ = zlib_crc32(static_cast<std::uint32_t>(crc_), p, n);
      break;
    case ChecksumAlgorithm::crc32c:
      crc_ = crc32c_update(static_cast<std::uint32_t>(crc_), p, n);
      break;
    case ChecksumAlgorithm::crc64nvme:
      crc_ = crc_reflected_update<std::uint64_t, kCrc64NvmePoly>(crc_, p, n);
      break;
    case ChecksumAlgorithm::sha1:
    case ChecksumAlgorithm::sha256:
      if (!evp_) throw std::logic_error("Checksum used after move");
      evp_check(EVP_DigestUpdate(evp_.get(), p, n), "EVP_DigestUpdate");
      break;
  }
}

std::string Checksum::digest() {
  if (digest_) return *digest_;
  switch (algorithm_) {
    case ChecksumAlgorithm::crc32:
      digest_ = big_endian(crc_, 4);
      break;
    case ChecksumAlgorithm::crc32c:
      digest_ = big_endian(crc_ ^ 0xFFFFFFFFu, 4);
      break;
    case ChecksumAlgorithm::crc64nvme:
      digest_ = big_endian(~crc_, 8);
      break;
    case ChecksumAlgorithm::sha1:
    case ChecksumAlgorithm::sha256:
      if (!evp_) throw std::logic_error("Checksum used after move");
      digest_ = evp_final(evp_.get());
      evp_.reset();
      break;
  }
  return *digest_;
}

std::string Checksum::digest_base64() {
  return base64_encode(digest());
}

// --- Md5 -----------------------------------------------------------------------------------------

void Md5::EvpDeleter::operator()(evp_md_ctx_st* ctx) const {
  EVP_MD_CTX_free(ctx);
}

Md5::Md5() : evp_(new_evp_ctx(evp_md5())) {}
Md5::~Md5() = default;
Md5::Md5(Md5&& other) noexcept = default;
Md5& Md5::operator=(Md5&& other) noexcept = default;

void Md5::update(const void* data, std::size_t n) {
  if (digest_) throw std::logic_error("Md5::update after digest()");
  if (!evp_) throw std::logic_error("Md5 used after move");
  if (n == 0) return;
  evp_check(EVP_DigestUpdate(evp_.get(), data, n), "EVP_DigestUpdate");
}

std::string Md5::digest() {
  if (digest_) return *digest_;
  if (!evp_) throw std::logic_error("Md5 used after move");
  digest_ = evp_final(evp_.get());
  evp_.reset();
  return *digest_;
}

std::string Md5::hex() { return to_hex(digest()); }

std::string sha256_digest(std::string_view data) {
  Checksum sha256(ChecksumAlgorithm::sha256);
  sha256.update(data);
  return sha256.digest();
}

}  // namespace stratus
