#pragma once
// One log stream per execution environment, written to
// <data-dir>/logs/<function>/<YYYY-MM-DD>-<stream-id>.log like a CloudWatch log stream.

#include <filesystem>
#include <string>
#include <string_view>

namespace stratus::emulator {

class LogStream {
 public:
  LogStream() = default;
  // Opens (creates) the stream file; on failure the stream silently drops writes but logs once.
  void open(const std::filesystem::path& file);
  ~LogStream();
  LogStream(const LogStream&) = delete;
  LogStream& operator=(const LogStream&) = delete;

  void write(std::string_view text);

 private:
  int fd_ = -1;
};

}  // namespace stratus::emulator
