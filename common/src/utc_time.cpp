#include "stratus/common/utc_time.hpp"

#include <cstdio>
#include <ctime>

namespace stratus {

std::string format_utc(std::chrono::system_clock::time_point t, const char* format) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::size_t n = std::strftime(buf, sizeof buf, format, &tm);
  return std::string(buf, n);
}

std::string format_utc_millis(std::chrono::system_clock::time_point t, std::string_view zone) {
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
  char ms[8];
  std::snprintf(ms, sizeof ms, ".%03d", static_cast<int>(millis));
  return format_utc(t, "%Y-%m-%dT%H:%M:%S") + ms + std::string(zone);
}

}  // namespace stratus
