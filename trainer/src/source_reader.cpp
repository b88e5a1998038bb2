#include "source_reader.hpp"

#include <openssl/evp.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <system_error>

namespace stratus::trainer::detail {

namespace {

constexpr std::size_t kStoredChunk = std::size_t{256} << 10;
// zlib counts in uInt.
constexpr std::size_t kMaxZlibChunk = std::size_t{1} << 30;

std::string hex(const unsigned char* bytes, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text(size * 2, '0');
  for (std::size_t i = 0; i < size; ++i) {
    text[2 * i] = kDigits[bytes[i] >> 4];
    text[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return text;
}

bool ends_with_gz(const std::filesystem::path& path) {
  const std::string name = path.filename().string();
  return name.size() >= 3 && name.compare(name.size() - 3, 3, ".gz") == 0;
}

}  // namespace

Sha256::Sha256() : context_(EVP_MD_CTX_new()) {
  if (context_ == nullptr || EVP_DigestInit_ex(context_, EVP_sha256(), nullptr) != 1) {
    EVP_MD_CTX_free(context_);
    throw std::runtime_error("cannot initialise SHA-256 (OpenSSL)");
  }
}

Sha256::~Sha256() {
  EVP_MD_CTX_free(context_);
}

void Sha256::update(const void* data, std::size_t size) {
  if (size != 0 && EVP_DigestUpdate(context_, data, size) != 1) {
    throw std::runtime_error("SHA-256 update failed (OpenSSL)");
  }
}

std::string Sha256::hex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_DigestFinal_ex(context_, digest, &size) != 1) {
    throw std::runtime_error("SHA-256 final failed (OpenSSL)");
  }
  return detail::hex(digest, size);
}

SourceReader::SourceReader(std::filesystem::path path)
    : path_(std::move(path)), file_(std::fopen(path_.c_str(), "rb"), &std::fclose) {
  if (!file_) {
    throw DatasetError(path_.string() + ": cannot open: " + std::generic_category().message(errno));
  }
  std::error_code error;
  if (!std::filesystem::is_regular_file(path_, error)) {
    throw DatasetError(path_.string() + ": not a regular file");
  }
  stored_size_ = std::filesystem::file_size(path_, error);
  if (error) throw DatasetError(path_.string() + ": cannot stat: " + error.message());

  unsigned char magic[2] = {0, 0};
  const std::size_t got = read_stored(magic, 2);
  const bool is_gzip = got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  if (!is_gzip && ends_with_gz(path_)) {
    throw DatasetError(path_.string() +
                       ": offset 0: not a gzip file (the name ends in .gz but the first bytes are "
                       "not the gzip magic 1f 8b)");
  }
  if (is_gzip) {
    gzip_ = std::make_unique<z_stream_s>();
    std::memset(gzip_.get(), 0, sizeof(z_stream_s));
    // 16 + MAX_WBITS: a gzip wrapper (RFC 1952) only, with its CRC-32 and length checked.
    if (inflateInit2(gzip_.get(), 16 + MAX_WBITS) != Z_OK) {
      gzip_.reset();
      throw DatasetError(path_.string() + ": cannot initialise zlib");
    }
    input_.resize(kStoredChunk);
    std::memcpy(input_.data(), magic, 2);
    gzip_->next_in = input_.data();
    gzip_->avail_in = 2;
  } else {
    // Plain: the two bytes already read are handed out first.
    input_.assign(magic, magic + got);
  }
}

SourceReader::~SourceReader() {
  if (gzip_) inflateEnd(gzip_.get());
}

std::size_t SourceReader::read_stored(void* destination, std::size_t size) {
  std::size_t total = 0;
  auto* out = static_cast<unsigned char*>(destination);
  while (total < size && !stored_eof_) {
    const std::size_t got = std::fread(out + total, 1, size - total, file_.get());
    if (got == 0) {
      if (std::ferror(file_.get())) {
        throw DatasetError(path_.string() + ": read error after " + std::to_string(stored_read_) +
                           " stored bytes");
      }
      stored_eof_ = true;
      break;
    }
    sha256_.update(out + total, got);
    stored_read_ += got;
    total += got;
  }
  return total;
}

bool SourceReader::refill_input() {
  const std::size_t got = read_stored(input_.data(), input_.size());
  gzip_->next_in = input_.data();
  gzip_->avail_in = static_cast<uInt>(got);
  return got != 0;
}

std::size_t SourceReader::read_gzip(unsigned char* destination, std::size_t size) {
  z_stream_s& stream = *gzip_;
  std::size_t produced = 0;
  while (produced < size) {
    if (stream.avail_in == 0 && !refill_input()) {
      if (member_ended_) return produced;  // a clean end after a complete member
      if (member_start_ != 0 && member_output_ == 0) {
        fail("unexpected bytes after the end of the gzip stream, at compressed byte " +
             std::to_string(member_start_) + " (not another gzip member)");
      }
      fail("truncated gzip stream: the compressed file ends after " + std::to_string(stored_read_) +
           " bytes, inside a gzip member");
    }
    if (member_ended_) {
      // More bytes after a complete member: RFC 1952 allows further members; anything else is
      // refused by inflate's header check below.
      if (inflateReset(&stream) != Z_OK) fail("cannot reset zlib");
      member_ended_ = false;
      member_output_ = 0;
      member_start_ = stored_read_ - stream.avail_in;
    }
    const std::uint64_t compressed_at = stored_read_ - stream.avail_in;
    const std::size_t room = std::min(size - produced, kMaxZlibChunk);
    stream.next_out = destination + produced;
    stream.avail_out = static_cast<uInt>(room);
    const int status = inflate(&stream, Z_NO_FLUSH);
    const std::size_t got = room - stream.avail_out;
    produced += got;
    offset_ += got;
    member_output_ += got;
    switch (status) {
      case Z_OK:
      case Z_BUF_ERROR:  // no progress possible without more input: refilled on the next turn
        break;
      case Z_STREAM_END:
        member_ended_ = true;
        break;
      case Z_NEED_DICT:
      case Z_DATA_ERROR:
        if (member_start_ != 0 && member_output_ == 0) {
          fail("unexpected bytes after the end of the gzip stream, at compressed byte " +
               std::to_string(member_start_) + " (not another gzip member)");
        }
        fail("corrupt gzip data at or after compressed byte " + std::to_string(compressed_at) +
             " (" + (stream.msg != nullptr ? stream.msg : "invalid deflate stream") + ")");
      case Z_MEM_ERROR:
        fail("out of memory while inflating");
      default:
        fail("zlib inflate failed with status " + std::to_string(status));
    }
  }
  return produced;
}

std::size_t SourceReader::read(void* destination, std::size_t size) {
  auto* out = static_cast<unsigned char*>(destination);
  std::size_t produced = 0;
  if (size != 0 && peeked_) {
    out[0] = *peeked_;
    peeked_.reset();
    ++produced;
    ++offset_;
  }
  if (gzip_) return produced + read_gzip(out + produced, size - produced);
  // Plain: first the bytes the gzip sniffing read, then the file.
  if (!input_.empty() && produced < size) {
    const std::size_t n = std::min(size - produced, input_.size());
    std::memcpy(out + produced, input_.data(), n);
    input_.erase(input_.begin(), input_.begin() + static_cast<std::ptrdiff_t>(n));
    produced += n;
    offset_ += n;
  }
  const std::size_t got = read_stored(out + produced, size - produced);
  offset_ += got;
  return produced + got;
}

void SourceReader::read_exact(void* destination, std::size_t size, std::string_view what) {
  const std::uint64_t start = offset_;
  const std::size_t got = read(destination, size);
  if (got != size) {
    fail_at(start, "truncated: expected " + std::to_string(size) + " " + std::string(what) + ", " +
                       (gzip_ ? "the decompressed stream" : "the file") + " ends after " +
                       std::to_string(got));
  }
}

void SourceReader::read_into(std::vector<std::uint8_t>& out, std::uint64_t count,
                             std::string_view what) {
  const std::uint64_t start = offset_;
  const std::size_t base = out.size();
  std::uint64_t filled = 0;
  // A plain file's real size bounds what can arrive: reserve that much at once.
  if (!gzip_) {
    const std::uint64_t available = stored_size_ > offset_ ? stored_size_ - offset_ : 0;
    out.reserve(base + static_cast<std::size_t>(std::min(count, available)));
  }
  while (filled < count) {
    const std::uint64_t target =
        std::min<std::uint64_t>(count, std::max<std::uint64_t>(kFirstReadPiece, filled * 2));
    out.resize(base + static_cast<std::size_t>(target));
    const std::size_t want = static_cast<std::size_t>(target - filled);
    const std::size_t got = read(out.data() + base + filled, want);
    filled += got;
    if (got != want) {
      out.resize(base + static_cast<std::size_t>(filled));
      fail_at(start, "truncated: expected " + std::to_string(count) + " " + std::string(what) +
                         ", " + (gzip_ ? "the decompressed stream" : "the file") + " ends after " +
                         std::to_string(filled));
    }
  }
}

bool SourceReader::at_end() {
  if (peeked_) return false;
  unsigned char byte = 0;
  const std::uint64_t before = offset_;
  if (read(&byte, 1) == 0) return true;
  peeked_ = byte;
  offset_ = before;  // the peeked byte is handed out again by the next read
  return false;
}

void SourceReader::expect_end(std::string_view after_what) {
  if (at_end()) return;
  const std::uint64_t start = offset_;
  std::uint64_t extra = 0;
  unsigned char buffer[4096];
  // Count what is left, within reason, so the message says how much.
  for (std::size_t got;
       extra < (std::uint64_t{1} << 30) && (got = read(buffer, sizeof buffer)) != 0;) {
    extra += got;
  }
  fail_at(start, std::to_string(extra) + " unexpected bytes after " + std::string(after_what));
}

void SourceReader::fail_at(std::uint64_t offset, const std::string& message) const {
  throw DatasetError(path_.string() + ": offset " + std::to_string(offset) +
                     (gzip_ ? " (decompressed)" : "") + ": " + message);
}

SourceFile SourceReader::finish() {
  // Normally everything has been read; hash any stored bytes left so the digest covers the file.
  unsigned char buffer[4096];
  while (read_stored(buffer, sizeof buffer) != 0) {
  }
  return SourceFile{path_.filename().string(), stored_read_, sha256_.hex()};
}

}  // namespace stratus::trainer::detail
