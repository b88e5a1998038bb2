#include "stratus/emulator/s3/s3_names.hpp"

#include "stratus/common/hex.hpp"
#include "stratus/common/http_message.hpp"
#include "stratus/emulator/s3/s3_error.hpp"

#include <array>

namespace stratus::emulator::s3 {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || is_digit(c);
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}
bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Four dot-separated groups of 1-3 digits: what S3 calls "formatted as an IP address". Values over
// 255 count too (999.1.1.1 still looks like an address to a resolver or a human).
bool looks_like_ipv4(std::string_view name) {
  int groups = 0;
  std::size_t i = 0;
  while (true) {
    std::size_t digits = 0;
    while (i < name.size() && is_digit(name[i])) {
      ++i;
      ++digits;
    }
    if (digits == 0 || digits > 3) return false;
    ++groups;
    if (i == name.size()) return groups == 4;
    if (name[i] != '.') return false;
    ++i;
  }
}

std::string printable(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7F) return std::string("'") + c + "'";
  return std::string("byte 0x") + byte_hex(u);
}

// Saturating decimal parse of a non-empty run of digits; false for anything else.
bool parse_position(std::string_view digits, std::uint64_t& out) {
  if (digits.empty()) return false;
  std::uint64_t value = 0;
  for (char c : digits) {
    if (!is_digit(c)) return false;
    auto d = static_cast<std::uint64_t>(c - '0');
    value = value > (UINT64_MAX - d) / 10 ? UINT64_MAX : value * 10 + d;
  }
  out = value;
  return true;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<std::string> bucket_name_problem(std::string_view name) {
  if (name.size() < 3 || name.size() > 63) {
    return "bucket names must be between 3 and 63 characters long (this one has " +
           std::to_string(name.size()) + ")";
  }
  for (char c : name) {
    if (!is_lower_alnum(c) && c != '.' && c != '-') {
      return "bucket names may contain only lower-case letters, digits, '.' and '-', not " +
             printable(c);
    }
  }
  if (!is_lower_alnum(name.front()) || !is_lower_alnum(name.back())) {
    return std::string("bucket names must begin and end with a letter or digit");
  }
  if (name.find("..") != std::string_view::npos) {
    return std::string("bucket names must not contain two adjacent periods");
  }
  if (looks_like_ipv4(name)) {
    return std::string("bucket names must not be formatted as an IP address");
  }
  static constexpr std::array<std::string_view, 3> kPrefixes = {"xn--", "sthree-", "amzn-s3-demo-"};
  for (auto prefix : kPrefixes) {
    if (starts_with(name, prefix)) {
      return "bucket names must not start with the reserved prefix '" + std::string(prefix) + "'";
    }
  }
  static constexpr std::array<std::string_view, 5> kSuffixes = {"-s3alias", "--ol-s3", ".mrap",
                                                                "--x-s3", "--table-s3"};
  for (auto suffix : kSuffixes) {
    if (ends_with(name, suffix)) {
      return "bucket names must not end with the reserved suffix '" + std::string(suffix) + "'";
    }
  }
  return std::nullopt;
}

bool is_valid_utf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    std::size_t n;
    std::uint32_t cp;
    std::uint32_t min;
    if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return false;  // a continuation byte without a lead, or 0xF8..0xFF
    }
    if (static_cast<std::size_t>(end - p) <= n) return false;
    for (std::size_t i = 1; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min) return false;                      // overlong
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;  // UTF-16 surrogate
    if (cp > 0x10FFFF) return false;
    p += n + 1;
  }
  return true;
}

std::optional<std::string> object_key_problem(std::string_view key) {
  if (key.empty()) return std::string("object keys must not be empty");
  if (key.size() > kMaxObjectKeyBytes) {
    return "object keys are at most 1024 bytes of UTF-8 (this one has " +
           std::to_string(key.size()) + ")";
  }
  if (key.find('\0') != std::string_view::npos) {
    return std::string("object keys must not contain NUL");
  }
  if (!is_valid_utf8(key)) return std::string("object keys must be valid UTF-8");
  return std::nullopt;
}

RangeOutcome parse_range(std::string_view header, std::uint64_t object_size, ByteRange& out) {
  std::string_view h = trim_ows(header);
  auto eq = h.find('=');
  if (eq == std::string_view::npos || !iequals(trim_ows(h.substr(0, eq)), "bytes")) {
    return RangeOutcome::whole;
  }
  std::string_view spec = trim_ows(h.substr(eq + 1));
  // S3 serves a single range; a list of them is answered with the whole object.
  if (spec.find(',') != std::string_view::npos) return RangeOutcome::whole;
  auto dash = spec.find('-');
  if (dash == std::string_view::npos) return RangeOutcome::whole;
  std::string_view first_text = spec.substr(0, dash);
  std::string_view last_text = spec.substr(dash + 1);

  if (first_text.empty()) {  // bytes=-n: the last n bytes
    std::uint64_t suffix = 0;
    if (!parse_position(last_text, suffix)) return RangeOutcome::whole;
    if (suffix == 0) return RangeOutcome::unsatisfiable;
    if (object_size == 0) return RangeOutcome::whole;
    std::uint64_t length = suffix < object_size ? suffix : object_size;
    out = ByteRange{object_size - length, length};
    return RangeOutcome::partial;
  }

  std::uint64_t first = 0;
  if (!parse_position(first_text, first)) return RangeOutcome::whole;
  std::uint64_t last = UINT64_MAX;
  if (!last_text.empty()) {
    if (!parse_position(last_text, last)) return RangeOutcome::whole;
    if (last < first) return RangeOutcome::whole;  // invalid: RFC 9110 says ignore the header
  }
  if (first >= object_size) return RangeOutcome::unsatisfiable;
  if (last > object_size - 1) last = object_size - 1;
  out = ByteRange{first, last - first + 1};
  return RangeOutcome::partial;
}

void require_valid_key(std::string_view key) {
  if (auto problem = object_key_problem(key)) {
    throw S3Exception(key_too_long(key) ? S3ErrorCode::KeyTooLongError : S3ErrorCode::InvalidArgument, *problem);
  }
}

}  // namespace stratus::emulator::s3
