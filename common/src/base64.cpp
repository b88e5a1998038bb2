#include "stratus/common/base64.hpp"

#include <openssl/evp.h>

#include <array>
#include <cstdint>

namespace stratus {
namespace {

// Each character's 6-bit value, or kNotBase64 for every byte outside the standard alphabet
// ('=' included: padding is handled apart, in the last group only).
constexpr std::uint8_t kNotBase64 = 0xff;

constexpr std::array<std::uint8_t, 256> decoding_table() {
  std::array<std::uint8_t, 256> table{};
  for (auto& value : table) value = kNotBase64;
  constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (std::uint8_t i = 0; i < 64; ++i) table[static_cast<unsigned char>(kAlphabet[i])] = i;
  return table;
}

constexpr std::array<std::uint8_t, 256> kDecoding = decoding_table();

std::uint32_t value_of(char c) {
  return kDecoding[static_cast<unsigned char>(c)];
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// Validates and decodes in one pass (a table lookup per character): request tensors are tens of
// kilobytes of base64 per invocation, and a separate validation loop plus OpenSSL's decoder cost
// five times as much. Accepts exactly what the alphabet check + EVP_DecodeBlock did: groups of four
// alphabet characters, '=' only as the last one or two characters; unused low bits of a padded
// group are ignored, as OpenSSL ignores them.
std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  if (text.empty()) return std::string();
  const std::size_t padding = text.back() != '=' ? 0 : text[text.size() - 2] == '=' ? 2 : 1;
  std::string out(3 * (text.size() / 4) - padding, '\0');
  auto* to = reinterpret_cast<unsigned char*>(out.data());
  const char* from = text.data();
  // Every group but the last holds four alphabet characters. Values are below 64 and kNotBase64
  // has bit 6 set, so one test of the four values or-ed together refuses the group.
  const std::size_t full_groups = text.size() / 4 - 1;
  for (std::size_t g = 0; g < full_groups; ++g, from += 4, to += 3) {
    const std::uint32_t a = value_of(from[0]);
    const std::uint32_t b = value_of(from[1]);
    const std::uint32_t c = value_of(from[2]);
    const std::uint32_t d = value_of(from[3]);
    if (((a | b | c | d) & 0x40) != 0) return std::nullopt;
    const std::uint32_t bits = a << 18 | b << 12 | c << 6 | d;
    to[0] = static_cast<unsigned char>(bits >> 16);
    to[1] = static_cast<unsigned char>(bits >> 8);
    to[2] = static_cast<unsigned char>(bits);
  }
  // The last group: its padding characters stand for zero bits.
  const std::uint32_t a = value_of(from[0]);
  const std::uint32_t b = value_of(from[1]);
  const std::uint32_t c = padding >= 2 ? 0 : value_of(from[2]);
  const std::uint32_t d = padding >= 1 ? 0 : value_of(from[3]);
  if (((a | b | c | d) & 0x40) != 0) return std::nullopt;
  const std::uint32_t bits = a << 18 | b << 12 | c << 6 | d;
  to[0] = static_cast<unsigned char>(bits >> 16);
  if (padding < 2) to[1] = static_cast<unsigned char>(bits >> 8);
  if (padding < 1) to[2] = static_cast<unsigned char>(bits);
  return out;
}

}  // namespace stratus
