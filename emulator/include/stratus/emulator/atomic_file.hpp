#pragma once
#include <filesystem>
#include <string_view>

namespace stratus::emulator {

// Writes `content` to a temporary file beside `path`, flushes it to disk, then renames it over
// `path`, so readers see either the old or the new content, never a torn one. Throws
// std::system_error.
void write_file_atomically(const std::filesystem::path& path, std::string_view content);

}  // namespace stratus::emulator
