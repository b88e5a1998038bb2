#pragma once
// One stored object (or multipart part) is one file: its bytes, then its metadata as JSON, then a
// fixed footer. Putting the metadata in the same file is what makes a replace atomic: the object
// is complete in a temporary file and renamed over the old one in a single step, so a reader (or a
// restart after a crash) sees the old object or the new one, never data without metadata.
//
//   [data: size bytes][metadata JSON: n bytes][n: u32 little-endian]["STS3OBJ1"]
//
// A reader holding the file open keeps reading the version it opened even if it is replaced.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace stratus::emulator::s3 {

// Which file on disk an index entry describes: its inode, size and modification time. Not stored;
// one fstat of an open file tells whether it is still the file the entry was made from.
struct FileStamp {
  std::uint64_t inode = 0;
  std::uint64_t bytes = 0;
  std::int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

struct ObjectMeta {
  std::string key;
  std::uint64_t size = 0;
  std::string etag;  // without quotes: 32 hex digits, or "<hex>-N" for multipart
  std::string content_type;
  std::string content_encoding;
  std::string content_disposition;
  std::string cache_control;
  std::map<std::string, std::string> user_metadata;  // x-amz-meta-* without the prefix, lower case
  std::map<std::string, std::string> checksums;      // "CRC32" -> base64, as the client sent/asked
  std::int64_t last_modified_ms = 0;                 // Unix epoch milliseconds
  int parts = 0;                                     // multipart: number of parts; else 0
  std::string md5_hex;                               // MD5 of the data (parts: of this part)
  FileStamp file;                                    // in memory only: see FileStamp

  std::chrono::system_clock::time_point last_modified() const {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(last_modified_ms));
  }
};

inline constexpr std::size_t kMaxObjectMetaBytes = 1 << 20;

// The metadata and footer to append after `meta.size` bytes of data.
std::string encode_object_trailer(const ObjectMeta& meta);
// Just its JSON (exposed for tests: the same document nlohmann would write).
std::string encode_object_trailer_json(const ObjectMeta& meta);

// The stamp of an open file (a default stamp when fstat fails, which matches no file).
FileStamp file_stamp(int fd);

// Reads the metadata of the object file open as `fd`. Returns nullopt for anything that is not a
// complete object file (wrong magic, sizes that do not add up, unreadable JSON). The result's
// `file` is the stamp of `fd`.
std::optional<ObjectMeta> read_object_meta(int fd);

}  // namespace stratus::emulator::s3
