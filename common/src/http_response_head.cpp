#include "stratus/common/http_response_head.hpp"

#include <array>
#include <boost/beast/http/status.hpp>
#include <charconv>
#include <cstring>

namespace stratus {

namespace {

namespace http = boost::beast::http;

// RFC 9110 token characters, the only ones a field name may have.
constexpr std::array<bool, 256> make_token_table() {
  std::array<bool, 256> table{};
  for (int c = '0'; c <= '9'; ++c) table[static_cast<std::size_t>(c)] = true;
  for (int c = 'a'; c <= 'z'; ++c) table[static_cast<std::size_t>(c)] = true;
  for (int c = 'A'; c <= 'Z'; ++c) table[static_cast<std::size_t>(c)] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) table[static_cast<unsigned char>(c)] = true;
  return table;
}
constexpr std::array<bool, 256> kTokenChar = make_token_table();

// Control characters other than tab: never sent inside a field value.
constexpr std::array<bool, 256> make_control_table() {
  std::array<bool, 256> table{};
  for (int c = 0; c < 0x20; ++c) table[static_cast<std::size_t>(c)] = c != '\t';
  table[0x7f] = true;
  return table;
}
constexpr std::array<bool, 256> kControlChar = make_control_table();

bool is_token(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!kTokenChar[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

// Fields whose meaning is the connection's framing, which only the server decides.
bool is_framing_field(std::string_view name) {
  switch (name.size()) {
    case 10:
      return iequals(name, "Connection");
    case 14:
      return iequals(name, "Content-Length");
    case 17:
      return iequals(name, "Transfer-Encoding");
    default:
      return false;
  }
}

// Writes at `p` (which has room) and returns the end.
char* put(char* p, std::string_view text) {
  std::memcpy(p, text.data(), text.size());
  return p + text.size();
}

char* put_field(char* p, std::string_view name, std::string_view value) {
  while (!value.empty() && is_blank(value.front())) value.remove_prefix(1);
  while (!value.empty() && is_blank(value.back())) value.remove_suffix(1);
  p = put(p, name);
  p = put(p, ": ");
  char* first = p;
  p = put(p, value);
  for (char* c = first; c != p; ++c) {
    if (kControlChar[static_cast<unsigned char>(*c)]) *c = ' ';
  }
  return put(p, "\r\n");
}

template <class Integer>
char* put_number(char* p, Integer n) {
  return std::to_chars(p, p + 24, n).ptr;
}

}  // namespace

bool status_forbids_body(int status) {
  return (status >= 100 && status < 200) || status == 204 || status == 304;
}

void format_response_head(std::string& out, int status, const HttpHeaders& headers,
                          std::string_view server_name, ResponseFraming framing) {
  if (status < 100 || status > 999) status = 500;
  auto reason = http::obsolete_reason(http::int_to_status(static_cast<unsigned>(status)));
  // Sized for the worst case first and cut to what was written: one allocation at most (none
  // once the reused string has grown), and no per-piece append bookkeeping.
  std::size_t bound = 9 + 4 + reason.size() + 2 + 8 + server_name.size() + 2 + 19 + 16 + 24 + 4;
  for (const auto& f : headers.fields()) bound += f.name.size() + f.value.size() + 4;
  out.resize(bound);
  char* p = out.data();
  p = put(p, "HTTP/1.1 ");
  p = put_number(p, status);
  *p++ = ' ';
  p = put(p, std::string_view(reason.data(), reason.size()));
  p = put(p, "\r\n");
  p = put_field(p, "Server", server_name);
  for (const auto& f : headers.fields()) {
    if (!is_token(f.name) || is_framing_field(f.name)) continue;
    p = put_field(p, f.name, f.value);
  }
  if (!framing.keep_alive) p = put(p, "Connection: close\r\n");
  p = put(p, "Content-Length: ");
  p = put_number(p, framing.content_length);
  p = put(p, "\r\n\r\n");
  out.resize(static_cast<std::size_t>(p - out.data()));
}

}  // namespace stratus
