#pragma once
// Every file the trainer writes for the user (JSON reports, HTML pages) is written beside its
// destination and renamed into place, so a reader never sees half a report and a failed write
// leaves the previous file, if any, as it was.

#include <filesystem>
#include <string_view>

namespace stratus::trainer {

// Throws std::runtime_error naming `file` when it cannot be written.
void write_file_replacing(const std::filesystem::path& file, std::string_view text);

}  // namespace stratus::trainer
