#include "json_long_strings.hpp"

#include <cstring>
#include <string>

namespace stratus::ml {
namespace {

constexpr std::string_view kPlaceholderEscape = "\\u0001";
constexpr char kPlaceholderMark = '\x01';

bool json_whitespace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Printable ASCII other than '"' and '\\' stands for itself inside a JSON string.
// Branch-free so that the compiler vectorises it: it runs over every long string.
bool literal_text(std::string_view text) {
  unsigned not_literal = 0;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    not_literal |= static_cast<unsigned>(byte < 0x20) | static_cast<unsigned>(byte > 0x7e) |
                   static_cast<unsigned>(byte == '\\');
  }
  return not_literal == 0;
}

// Where the string opening at `open` (a '"') closes; npos when it never does.
std::size_t closing_quote(std::string_view text, std::size_t open) {
  const char* begin = text.data() + open + 1;
  const std::size_t rest = text.size() - open - 1;
  const auto* quote = static_cast<const char*>(std::memchr(begin, '"', rest));
  if (quote == nullptr) return std::string_view::npos;
  // The usual case, no backslash before that quote, needs no character-by-character walk.
  if (std::memchr(begin, '\\', static_cast<std::size_t>(quote - begin)) == nullptr) {
    return static_cast<std::size_t>(quote - text.data());
  }
  for (std::size_t i = open + 1; i < text.size(); ++i) {
    if (text[i] == '\\') {
      ++i;
    } else if (text[i] == '"') {
      return i;
    }
  }
  return std::string_view::npos;
}

}  // namespace

JsonWithLongStrings::JsonWithLongStrings(std::string_view payload) {
  if (payload.find(kPlaceholderEscape) != std::string_view::npos) {
    document_ = nlohmann::json::parse(payload);
    return;
  }
  std::string remainder;
  std::size_t copied = 0;
  char last_outside_strings = '\0';
  for (std::size_t i = 0; i < payload.size(); ++i) {
    const char c = payload[i];
    if (c != '"') {
      if (!json_whitespace(c)) last_outside_strings = c;
      continue;
    }
    const std::size_t close = closing_quote(payload, i);
    if (close == std::string_view::npos) break;  // the parser reports the unterminated string
    const std::string_view content = payload.substr(i + 1, close - i - 1);
    if (last_outside_strings == ':' && content.size() >= kLongJsonString && literal_text(content)) {
      remainder.append(payload.substr(copied, i + 1 - copied));
      remainder.append(kPlaceholderEscape);
      remainder.append(std::to_string(long_strings_.size()));
      long_strings_.push_back(content);
      copied = close;
    }
    last_outside_strings = '"';
    i = close;
  }
  if (long_strings_.empty()) {
    document_ = nlohmann::json::parse(payload);
    return;
  }
  remainder.append(payload.substr(copied));
  try {
    document_ = nlohmann::json::parse(remainder);
  } catch (const nlohmann::json::exception&) {
    // Positions in this error are the remainder's: parse the original for the error it has.
    long_strings_.clear();
    document_ = nlohmann::json::parse(payload);
  }
}

std::optional<std::string_view> JsonWithLongStrings::string_value(
    const nlohmann::json& value) const {
  if (!value.is_string()) return std::nullopt;
  const std::string& text = value.get_ref<const std::string&>();
  if (long_strings_.empty() || text.empty() || text[0] != kPlaceholderMark) return text;
  return long_strings_.at(std::stoul(text.substr(1)));
}

}  // namespace stratus::ml
