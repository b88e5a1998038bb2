#pragma once
// The status line and header fields of an HTTP/1.1 response, written as they go on the wire into
// one string, so the server sends head and body in a single gather write instead of walking a
// serializer's nested buffer views.

#include <cstdint>
#include <string>
#include <string_view>

#include "stratus/common/http_message.hpp"

namespace stratus {

struct ResponseFraming {
  bool keep_alive = true;  // false adds "Connection: close"
  std::uint64_t content_length = 0;
};

// Replaces `out` with "HTTP/1.1 <status> <reason>", "Server: <server_name>", the handler's fields
// in their order, "Connection: close" when not keeping alive, "Content-Length: <n>" and the empty
// line (the layout Boost.Beast produced before). The server owns the framing: the handler's own
// Content-Length, Transfer-Encoding and Connection fields are left out. Untrusted text cannot split
// the response: a field whose name is not an RFC 9110 token is left out, and control characters
// other than tab in a value (CR, LF, NUL, ...) become spaces. Values lose surrounding blanks, as
// Beast trimmed them. A status outside 100..999 is sent as 500.
void format_response_head(std::string& out, int status, const HttpHeaders& headers,
                          std::string_view server_name, ResponseFraming framing);

// Whether a response with this status carries no body (1xx, 204, 304), whatever Content-Length
// says.
bool status_forbids_body(int status);

}  // namespace stratus
