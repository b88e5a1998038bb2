#pragma once
// Parses a JSON document whose long plain strings are read in place instead of through
// nlohmann's lexer. A gradient_z request is a few short fields around tens of kilobytes of base64,
// and nlohmann copies every string character twice (token buffer, error context) through a
// per-character state machine: that lexing was two thirds of an invocation. The bootstrap is
// linked fully static and Debian ships simdjson only as a shared library, so nlohmann stays the
// parser; the long strings just never reach it.
//
// How: a scan that knows only where strings begin and end cuts out every string value (a string
// right after ':') of at least kLongJsonString printable ASCII characters without escapes (so its
// JSON value is its bytes as they stand) and puts a short placeholder in its place; nlohmann
// parses what remains. A placeholder is "\u0001<n>": no string of the original can begin with
// U+0001 unless the payload spells the escape "\u0001", and then nothing is cut. Errors are
// nlohmann's own, with its positions: when what remains does not parse, the original is parsed
// whole and that error propagates.

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <vector>

namespace stratus::ml {

inline constexpr std::size_t kLongJsonString = 128;

class JsonWithLongStrings {
 public:
  // Throws nlohmann::json::exception exactly as nlohmann::json::parse(payload) does. `payload`
  // must outlive this object: long strings are views into it.
  explicit JsonWithLongStrings(std::string_view payload);

  const nlohmann::json& document() const { return document_; }

  // The text of a string value of document(), wherever it is kept; nullopt when `value` is not a
  // string.
  std::optional<std::string_view> string_value(const nlohmann::json& value) const;

 private:
  nlohmann::json document_;
  std::vector<std::string_view> long_strings_;
};

}  // namespace stratus::ml
