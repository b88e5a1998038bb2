#pragma once
// Unpacks an uploaded function zip safely: no entry may land outside the target directory
// (absolute names, "..", symlinks pointing out), unix mode bits are kept (they decide what is
// executable, e.g. `bootstrap`), setuid/setgid bits are dropped, and the unzipped size is bounded
// by counting the bytes actually inflated rather than trusting the archive's headers.

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string_view>

namespace stratus::emulator {

class ZipError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ZipExtraction {
  std::uint64_t unzipped_bytes = 0;
  std::size_t files = 0;
};

// Lambda's limit for unzipped code.
inline constexpr std::uint64_t kMaxUnzippedCodeBytes = 262144000;

// `target_dir` must not exist yet; it is created. On error, whatever was written is removed.
ZipExtraction extract_zip(std::string_view zip_bytes, const std::filesystem::path& target_dir,
                          std::uint64_t max_unzipped_bytes = kMaxUnzippedCodeBytes);

// True when `name` (a zip entry name) is a relative path that stays inside its root.
bool is_safe_entry_name(std::string_view name);

}  // namespace stratus::emulator
