#pragma once
// Lower-case hex of raw bytes: digests in SigV4 and ETags, ids, bytes quoted in error messages.

#include <string>
#include <string_view>

namespace stratus {

std::string to_hex(std::string_view bytes);
// One byte as two hex digits ("0a").
std::string byte_hex(unsigned char byte);

}  // namespace stratus
