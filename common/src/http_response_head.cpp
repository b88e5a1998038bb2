#include "stratus/common/http_response_head.hpp"

#include <array>
#include <boost/beast/http/status.hpp>
#include <charconv>

namespace stratus {

namespace {

namespace http = boost::beast::http;

bool is_token_char(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool is_token(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!is_token_char(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

// Fields whose meaning is the connection's framing, which only the server decides.
bool is_framing_field(std::string_view name) {
  return iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding") ||
         iequals(name, "Connection");
}

bool is_control(unsigned char c) {
  return (c < 0x20 && c != '\t') || c == 0x7f;
}

void append_value(std::string& out, std::string_view value) {
  while (!value.empty() && is_blank(value.front())) value.remove_prefix(1);
  while (!value.empty() && is_blank(value.back())) value.remove_suffix(1);
  bool clean = true;
  for (char c : value) clean &= !is_control(static_cast<unsigned char>(c));
  if (clean) return static_cast<void>(out.append(value));
  for (char c : value) out.push_back(is_control(static_cast<unsigned char>(c)) ? ' ' : c);
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ");
  append_value(out, value);
  out.append("\r\n");
}

template <class Integer>
void append_number(std::string& out, Integer n) {
  std::array<char, 24> digits{};
  auto end = std::to_chars(digits.data(), digits.data() + digits.size(), n).ptr;
  out.append(digits.data(), end);
}

}  // namespace

bool status_forbids_body(int status) {
  return (status >= 100 && status < 200) || status == 204 || status == 304;
}

void format_response_head(std::string& out, int status, const HttpHeaders& headers,
                          std::string_view server_name, ResponseFraming framing) {
  if (status < 100 || status > 999) status = 500;
  out.clear();
  std::size_t guess = 64 + server_name.size();
  for (const auto& f : headers.fields()) guess += f.name.size() + f.value.size() + 4;
  out.reserve(guess);
  out.append("HTTP/1.1 ");
  append_number(out, status);
  out.push_back(' ');
  auto reason = http::obsolete_reason(http::int_to_status(static_cast<unsigned>(status)));
  out.append(reason.data(), reason.size());
  out.append("\r\n");
  append_field(out, "Server", server_name);
  for (const auto& f : headers.fields()) {
    if (!is_token(f.name) || is_framing_field(f.name)) continue;
    append_field(out, f.name, f.value);
  }
  if (!framing.keep_alive) out.append("Connection: close\r\n");
  out.append("Content-Length: ");
  append_number(out, framing.content_length);
  out.append("\r\n\r\n");
}

}  // namespace stratus
