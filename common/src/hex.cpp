#include "stratus/common/hex.hpp"

namespace stratus {

namespace {
constexpr char kHexDigits[] = "0123456789abcdef";
}  // namespace

std::string to_hex(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHexDigits[c >> 4]);
    out.push_back(kHexDigits[c & 0xf]);
  }
  return out;
}

std::string byte_hex(unsigned char byte) { return {kHexDigits[byte >> 4], kHexDigits[byte & 0xf]}; }

}  // namespace stratus
