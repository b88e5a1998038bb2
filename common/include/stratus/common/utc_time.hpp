#pragma once
// Formatting wall-clock times in UTC, in the handful of shapes AWS uses.

#include <chrono>
#include <string>
#include <string_view>

namespace stratus {

// strftime of `t` in UTC, e.g. "%Y%m%dT%H%M%SZ".
std::string format_utc(std::chrono::system_clock::time_point t, const char* format);
// "2026-11-20T23:12:47.123" followed by `zone` ("Z", "+0000").
std::string format_utc_millis(std::chrono::system_clock::time_point t, std::string_view zone);

}  // namespace stratus
