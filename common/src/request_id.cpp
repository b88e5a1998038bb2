#include "stratus/common/request_id.hpp"

#include <random>

namespace stratus {

namespace {
std::mt19937_64& generator() {
  // Request ids only need to be unique, not unpredictable; one seeded generator per thread.
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return gen;
}
constexpr char kHex[] = "0123456789abcdef";
}  // namespace

std::string make_hex_id(std::size_t hex_digits) {
  std::string out;
  out.reserve(hex_digits);
  append_hex_id(out, hex_digits);
  return out;
}

void append_hex_id(std::string& out, std::size_t hex_digits) {
  std::uint64_t bits = 0;
  for (std::size_t i = 0; i < hex_digits; ++i) {
    if (i % 16 == 0) bits = generator()();
    out.push_back(kHex[bits & 0xf]);
    bits >>= 4;
  }
}

std::string make_request_id() {
  std::string hex = make_hex_id(32);
  hex[12] = '4';                              // version 4
  hex[16] = kHex[8 + (hex[16] % 4)];          // variant 10xx
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

}  // namespace stratus
