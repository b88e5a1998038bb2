#pragma once
// A number as the log lines and modeled headers print it, in a fixed buffer. std::to_chars with a
// precision is specified as printf with that precision ("%.2f", "%.12g"), so the text is the same
// as snprintf's, without printf's multi-precision path and without an allocation.

#include <charconv>
#include <cstdint>
#include <string_view>

namespace stratus::emulator {

class FormattedNumber {
 public:
  // printf "%.<precision>f".
  static FormattedNumber fixed(double value, int precision) {
    return FormattedNumber(value, std::chars_format::fixed, precision);
  }
  // printf "%.<precision>g".
  static FormattedNumber general(double value, int precision) {
    return FormattedNumber(value, std::chars_format::general, precision);
  }
  static FormattedNumber integer(std::int64_t value) {
    FormattedNumber n;
    n.size_ = static_cast<std::uint8_t>(
        std::to_chars(n.text_, n.text_ + sizeof n.text_, value).ptr - n.text_);
    return n;
  }

  std::string_view view() const { return {text_, size_}; }

 private:
  FormattedNumber() = default;
  FormattedNumber(double value, std::chars_format format, int precision) {
    auto result = std::to_chars(text_, text_ + sizeof text_, value, format, precision);
    // Only a value beyond any real duration or cost (|x| >= ~1e50 in fixed) does not fit: it gets
    // its shortest round-trip form, which always does.
    if (result.ec != std::errc()) result = std::to_chars(text_, text_ + sizeof text_, value);
    size_ = static_cast<std::uint8_t>(result.ptr - text_);
  }

  char text_[64] = {};
  std::uint8_t size_ = 0;
};

}  // namespace stratus::emulator
