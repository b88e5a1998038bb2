#include "stratus/emulator/lambda/json_validation.hpp"

#include <cstring>
#include <vector>

#include <nlohmann/json.hpp>
#include <simdjson.h>

namespace stratus::emulator {

// simdjson validates structure and UTF-8 at GB/s (nlohmann's validator runs at ~50 MB/s, ~100 ms
// for a 5 MB payload). simdjson also refuses some valid JSON it cannot represent (integers beyond
// 64 bits, too-deep nesting), so its "no" is confirmed by nlohmann before a payload is refused.
struct JsonValidator::Impl {
  simdjson::dom::parser parser;
  // simdjson reads up to SIMDJSON_PADDING bytes past the text: payloads are copied into this one
  // buffer, reused across calls, instead of a new padded_string each time. Payloads larger than
  // kReusedBytes get a buffer of their own, so a 6 MB payload does not stay resident.
  static constexpr std::size_t kReusedBytes = 64 * 1024;
  std::vector<char> padded;
};

JsonValidator::JsonValidator() : impl_(std::make_unique<Impl>()) {}
JsonValidator::~JsonValidator() = default;

bool JsonValidator::valid(std::string_view text) {
  bool parsed = false;
  if (text.size() <= Impl::kReusedBytes) {
    std::vector<char>& buffer = impl_->padded;
    if (buffer.size() < text.size() + simdjson::SIMDJSON_PADDING) {
      buffer.resize(Impl::kReusedBytes + simdjson::SIMDJSON_PADDING);
    }
    std::memcpy(buffer.data(), text.data(), text.size());
    std::memset(buffer.data() + text.size(), 0, simdjson::SIMDJSON_PADDING);  // as padded_string has
    parsed = !impl_->parser.parse(buffer.data(), text.size(), false).error();
  } else {
    simdjson::padded_string padded(text);
    parsed = !impl_->parser.parse(padded).error();
  }
  return parsed || nlohmann::json::accept(text);
}

}  // namespace stratus::emulator
