#pragma once
// S3 names and the Range header: bucket naming rules, object key rules, byte ranges.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace stratus::emulator::s3 {

// Why `name` is not a valid general-purpose bucket name (answer InvalidBucketName), or nullopt
// when it is. The rules of the S3 user guide "General purpose bucket naming rules": 3-63
// characters of a-z 0-9 . -, beginning and ending with a letter or digit, no "..", not an IPv4
// address, none of the reserved prefixes (xn--, sthree-, amzn-s3-demo-) or suffixes (-s3alias,
// --ol-s3, .mrap, --x-s3, --table-s3).
std::optional<std::string> bucket_name_problem(std::string_view name);

// Why `key` is not an acceptable object key, or nullopt. S3 keys are 1..1024 bytes of UTF-8
// (longer: KeyTooLongError; invalid UTF-8: S3 answers 400). Rejected here: empty, over 1024
// bytes, invalid UTF-8 (overlong forms, surrogates, code points past U+10FFFF, truncated
// sequences), and NUL -- a choice of ours: S3 accepts most control characters and so do we, but a
// NUL cannot be stored as a file name or sent in XML 1.0. Callers map the over-1024 case to
// KeyTooLongError and the rest to InvalidArgument; key_too_long() tells them apart.
std::optional<std::string> object_key_problem(std::string_view key);
inline constexpr std::size_t kMaxObjectKeyBytes = 1024;
inline bool key_too_long(std::string_view key) {
  return key.size() > kMaxObjectKeyBytes;
}

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing past U+10FFFF.
bool is_valid_utf8(std::string_view text);

// Throws S3Exception (KeyTooLongError over 1024 bytes, else InvalidArgument) unless the key is one
// S3 accepts.
void require_valid_key(std::string_view key);

struct ByteRange {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

enum class RangeOutcome {
  whole,          // no usable Range: answer 200 with the whole object
  partial,        // answer 206 with `out` and Content-Range: bytes first-last/size
  unsatisfiable,  // answer 416 InvalidRange with Content-Range: bytes */size
};

// Interprets a Range header against an object of `object_size` bytes, as S3 does:
//   bytes=a-b  -> a..min(b, size-1); bytes=a- -> a..size-1; bytes=-n -> the last n bytes (the
//   whole object when n >= size). A first byte at or past the end, or bytes=-0, is unsatisfiable,
//   and so is every non-suffix range of an empty object (S3 answers InvalidRange to bytes=0- on an
//   empty object); a suffix range of an empty object gives the (empty) whole object.
//   S3 serves one range only: several ranges ("bytes=0-1,5-6") get the whole object with 200, and
//   so does anything malformed (a wrong unit, b < a, junk), which RFC 9110 says to ignore.
// `out` is set only for `partial`.
RangeOutcome parse_range(std::string_view header, std::uint64_t object_size, ByteRange& out);

}  // namespace stratus::emulator::s3
