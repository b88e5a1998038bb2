#pragma once
#include <string>

namespace stratus {

// A random RFC 4122 version-4 UUID in lower-case hex, as Lambda uses for request ids.
std::string make_request_id();
// 32 random lower-case hex digits (log stream suffixes, revision ids).
std::string make_hex_id(std::size_t hex_digits = 32);
// The same digits appended to `out` (to build an id of several parts in one string).
void append_hex_id(std::string& out, std::size_t hex_digits);

}  // namespace stratus
