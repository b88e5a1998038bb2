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

namespace {

bool is_ascii(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

bool all_ascii(const ObjectMeta& meta) {
  for (std::string_view s :
       {std::string_view(meta.key), std::string_view(meta.etag),
        std::string_view(meta.content_type), std::string_view(meta.content_encoding),
        std::string_view(meta.content_disposition), std::string_view(meta.cache_control),
        std::string_view(meta.md5_hex)}) {
    if (!is_ascii(s)) return false;
  }
  for (const auto* map : {&meta.user_metadata, &meta.checksums}) {
    for (const auto& [k, v] : *map) {
      if (!is_ascii(k) || !is_ascii(v)) return false;
    }
  }
  return true;
}

// A JSON string for ASCII text: the escapes nlohmann's dump() writes, so both encoders agree.
void append_json_string(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += kHex[(c >> 4) & 0xf];
          out += kHex[c & 0xf];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void append_json_map(std::string& out, const std::map<std::string, std::string>& map) {
  out += '{';
  bool first = true;
  for (const auto& [k, v] : map) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, k);
    out += ':';
    append_json_string(out, v);
  }
  out += '}';
}

// The trailer JSON written by hand (fixed keys, in nlohmann's sorted order): a PUT of a small
// object spent about a tenth of its instructions building and dumping an nlohmann object.
std::string encode_ascii_trailer_json(const ObjectMeta& meta) {
  std::string out;
  out.reserve(256 + meta.key.size());
  auto field = [&](const char* name) {
    out += out.empty() ? "{\"" : ",\"";
    out += name;
    out += "\":";
  };
  field("cache_control");
  append_json_string(out, meta.cache_control);
  field("checksums");
  append_json_map(out, meta.checksums);
  field("content_disposition");
  append_json_string(out, meta.content_disposition);
  field("content_encoding");
  append_json_string(out, meta.content_encoding);
  field("content_type");
  append_json_string(out, meta.content_type);
  field("etag");
  append_json_string(out, meta.etag);
  field("key");
  append_json_string(out, meta.key);
  field("last_modified_ms");
  out += std::to_string(meta.last_modified_ms);
  field("md5");
  append_json_string(out, meta.md5_hex);
  field("metadata");
  append_json_map(out, meta.user_metadata);
  field("parts");
  out += std::to_string(meta.parts);
  field("size");
  out += std::to_string(meta.size);
  out += '}';
  return out;
}

}  // namespace

std::string encode_object_trailer_json(const ObjectMeta& meta) {
  // Anything beyond ASCII goes through nlohmann, which checks the UTF-8 as before.
  if (all_ascii(meta)) return encode_ascii_trailer_json(meta);
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
  return j.dump();
}

std::string encode_object_trailer(const ObjectMeta& meta) {
  std::string out = encode_object_trailer_json(meta);
  auto n = static_cast<std::uint32_t>(out.size());
  char length[4] = {static_cast<char>(n & 0xff), static_cast<char>((n >> 8) & 0xff),
                    static_cast<char>((n >> 16) & 0xff), static_cast<char>((n >> 24) & 0xff)};
  out.append(length, 4);
  out.append(kMagic);
  return out;
}

FileStamp file_stamp(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return {};
  return {static_cast<std::uint64_t>(st.st_ino), static_cast<std::uint64_t>(st.st_size),
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
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
    meta.file = {static_cast<std::uint64_t>(st.st_ino), file_size,
                 static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
    return meta;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

}  // namespace stratus::emulator::s3
