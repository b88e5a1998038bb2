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

// Writes `n` random hex digits to `out`, 16 from each 64-bit draw. Called once per invoke for the
// request id and three times for the trace header, so it writes into storage sized beforehand
// rather than pushing one character at a time.
void fill_hex(char* out, std::size_t n) {
  std::uint64_t bits = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (i % 16 == 0) bits = generator()();
    out[i] = kHex[bits & 0xf];
    bits >>= 4;
  }
}
}  // namespace

std::string make_hex_id(std::size_t hex_digits) {
  std::string out(hex_digits, '\0');
  fill_hex(out.data(), hex_digits);
  return out;
}

void append_hex_id(std::string& out, std::size_t hex_digits) {
  const std::size_t at = out.size();
  out.resize(at + hex_digits);
  fill_hex(out.data() + at, hex_digits);
}

std::string make_request_id() {
  // 8-4-4-4-12 digits; the dashes are written over the positions the digits skip.
  char hex[32];
  fill_hex(hex, sizeof hex);
  hex[12] = '4';                      // version 4
  hex[16] = kHex[8 + (hex[16] % 4)];  // variant 10xx
  std::string id(36, '-');
  char* p = id.data();
  std::size_t from = 0;
  for (std::size_t group : {8, 4, 4, 4, 12}) {
    for (std::size_t i = 0; i < group; ++i) *p++ = hex[from++];
    ++p;  // the dash (past the end after the last group)
  }
  return id;
}

}  // namespace stratus
