#include "stratus/emulator/s3/object_file.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include <nlohmann/json.hpp>

namespace stratus::emulator::s3 {

namespace {

constexpr std::string_view kMagic = "STS3OBJ1";
constexpr std::size_t kFooterBytes = 4 + kMagic.size();

bool pread_exact(int fd, char* out, std::size_t size, std::uint64_t offset) {
  while (size > 0) {
    ssize_t got = ::pread(fd, out, size, static_cast<off_t>(offset));
    if (got <= 0) return false;
    out += got;
    size -= static_cast<std::size_t>(got);
    offset += static_cast<std::uint64_t>(got);
  }
  return true;
}

}  // namespace

std::string encode_object_trailer(const ObjectMeta& meta) {
  nlohmann::json j = {
      {"key", meta.key},
      {"size", meta.size},
      {"etag", meta.etag},
      {"content_type", meta.content_type},
      {"content_encoding", meta.content_encoding},
      {"content_disposition", meta.content_disposition},
      {"cache_control", meta.cache_control},
      {"metadata", meta.user_metadata},
      {"checksums", meta.checksums},
      {"last_modified_ms", meta.last_modified_ms},
      {"parts", meta.parts},
      {"md5", meta.md5_hex},
  };
  std::string out = j.dump();
  auto n = static_cast<std::uint32_t>(out.size());
  char length[4] = {static_cast<char>(n & 0xff), static_cast<char>((n >> 8) & 0xff),
                    static_cast<char>((n >> 16) & 0xff), static_cast<char>((n >> 24) & 0xff)};
  out.append(length, 4);
  out.append(kMagic);
  return out;
}

std::optional<ObjectMeta> read_object_meta(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  auto file_size = static_cast<std::uint64_t>(st.st_size);
  if (file_size < kFooterBytes) return std::nullopt;
  char footer[kFooterBytes];
  if (!pread_exact(fd, footer, kFooterBytes, file_size - kFooterBytes)) return std::nullopt;
  if (std::string_view(footer + 4, kMagic.size()) != kMagic) return std::nullopt;
  std::uint32_t n = 0;
  for (int i = 3; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(footer[i]);
  if (n > kMaxObjectMetaBytes || n > file_size - kFooterBytes) return std::nullopt;
  std::string text(n, '\0');
  if (!pread_exact(fd, text.data(), n, file_size - kFooterBytes - n)) return std::nullopt;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  try {
    ObjectMeta meta;
    meta.key = j.at("key").get<std::string>();
    meta.size = j.at("size").get<std::uint64_t>();
    meta.etag = j.at("etag").get<std::string>();
    meta.content_type = j.value("content_type", "");
    meta.content_encoding = j.value("content_encoding", "");
    meta.content_disposition = j.value("content_disposition", "");
    meta.cache_control = j.value("cache_control", "");
    meta.user_metadata = j.value("metadata", std::map<std::string, std::string>{});
    meta.checksums = j.value("checksums", std::map<std::string, std::string>{});
    meta.last_modified_ms = j.value("last_modified_ms", std::int64_t{0});
    meta.parts = j.value("parts", 0);
    meta.md5_hex = j.value("md5", "");
    if (meta.size != file_size - kFooterBytes - n) return std::nullopt;
    return meta;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

}  // namespace stratus::emulator::s3
