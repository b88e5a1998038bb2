#include "stratus/trainer/output_file.hpp"

#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>

namespace stratus::trainer {

void write_file_replacing(const std::filesystem::path& file, std::string_view text) {
  const std::filesystem::path temporary = file.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    if (!out) {
      std::error_code ec;
      std::filesystem::remove(temporary, ec);
      throw std::runtime_error("cannot write '" + file.string() + "'");
    }
  }
  std::filesystem::rename(temporary, file);
}

}  // namespace stratus::trainer
