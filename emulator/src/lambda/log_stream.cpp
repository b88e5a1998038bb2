#include "stratus/emulator/lambda/log_stream.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

namespace stratus::emulator {

void LogStream::open(const std::filesystem::path& file) {
  std::error_code ec;
  std::filesystem::create_directories(file.parent_path(), ec);
  fd_ = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) spdlog::warn("cannot open log stream {}: function output is not kept", file.string());
}

LogStream::~LogStream() {
  if (fd_ >= 0) ::close(fd_);
}

void LogStream::write(std::string_view text) {
  if (fd_ < 0) return;
  while (!text.empty()) {
    ssize_t n = ::write(fd_, text.data(), text.size());
    if (n <= 0) return;  // disk full: logs are best effort, invocations go on
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace stratus::emulator
