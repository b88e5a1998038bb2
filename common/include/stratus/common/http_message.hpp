#pragma once
// Plain HTTP message types used across the project. They keep Boost.Beast out of every translation
// unit except the few that do network I/O, which keeps the build fast on small machines.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace stratus {

struct HttpHeaderField {
  std::string name;
  std::string value;
};

// Case-insensitive ASCII comparison, as HTTP header names require.
bool iequals(std::string_view a, std::string_view b);

class HttpHeaders {
 public:
  // Returns the first field with this name, or nullptr.
  const std::string* find(std::string_view name) const;
  std::string get(std::string_view name, std::string_view fallback = {}) const;
  // Replaces every field with this name by one field.
  void set(std::string_view name, std::string value);
  void add(std::string name, std::string value) { fields_.push_back({std::move(name), std::move(value)}); }
  const std::vector<HttpHeaderField>& fields() const { return fields_; }

 private:
  std::vector<HttpHeaderField> fields_;
};

struct HttpRequestHead {
  std::string method;  // upper case, e.g. "POST"
  std::string target;  // raw request target: path plus optional query
  HttpHeaders headers;
  std::optional<std::uint64_t> content_length;
  std::string remote_address;
};

// One piece of a streamed request body, in a buffer the server hands over to the sink.
struct HttpBodyPiece {
  std::unique_ptr<char[]> bytes;
  std::size_t size = 0;      // bytes of body in `bytes`
  std::size_t capacity = 0;  // the buffer's size
};

// Receives a request body piece by piece as it arrives, instead of the server buffering it whole
// (object uploads of many gigabytes). See HttpHandler::body_sink.
class HttpBodySink {
 public:
  virtual ~HttpBodySink() = default;
  // Consumes the next piece of the body (pieces are up to about a megabyte). Returning false stops
  // reading: the handler is then called with body_complete false and the connection is closed
  // after its answer, because the rest of the body is still in flight.
  virtual bool write(std::string_view piece) = 0;

  // The server's way in: `ready(go_on, buffer)` tells it to read the next piece into `buffer` (a
  // buffer of at least piece.capacity bytes), or, with go_on false, to stop as write() returning
  // false does. A sink may work on the piece elsewhere (hash it, write it to disk on a worker) and
  // call `ready` later, on the server's io thread, so that it keeps a few pieces in flight without
  // blocking the io thread; the server reads nothing more until then. For the `last` piece (which
  // may be empty), and whenever go_on is false, `ready` comes only once the sink has finished with
  // every piece, so the handler sees the whole body. `ready` may run before write_async returns.
  // The default consumes the piece with write() at once.
  using Ready = std::function<void(bool go_on, std::unique_ptr<char[]> buffer)>;
  virtual void write_async(HttpBodyPiece piece, bool /*last*/, Ready ready) {
    bool go_on = piece.size == 0 || write(std::string_view(piece.bytes.get(), piece.size));
    ready(go_on, std::move(piece.bytes));
  }
};

// A handler's own decision about a request (its operation, the resource it names), made once from
// the head by HttpHandler::plan and carried with the request (HttpRequest::route), so that the
// target is parsed once per request. Each handler derives its own; see carry_route.
class HttpRoute {
 public:
  virtual ~HttpRoute() = default;
};

template <class T>
class CarriedRoute final : public HttpRoute {
 public:
  explicit CarriedRoute(T value) : value(std::move(value)) {}
  T value;
};

template <class T>
std::shared_ptr<const HttpRoute> carry_route(T value) {
  return std::make_shared<const CarriedRoute<T>>(std::move(value));
}

// The T that carry_route<T> stored, or null when `route` is empty or carries something else.
template <class T>
const T* carried_route(const std::shared_ptr<const HttpRoute>& route) {
  const auto* carried = dynamic_cast<const CarriedRoute<T>*>(route.get());
  return carried ? &carried->value : nullptr;
}

struct HttpRequest : HttpRequestHead {
  // What the handler's plan() decided from the head (may be null).
  std::shared_ptr<const HttpRoute> route;
  std::string body;  // empty when the body went to body_sink
  // Set when the handler asked for the body to be streamed; it has received every byte of the
  // body when body_complete is true.
  std::shared_ptr<HttpBodySink> body_sink;
  bool body_complete = true;
};

// An open file whose bytes [offset, offset + length) are the response body. The descriptor is
// owned by `owner` (shared, so a response keeps the file it started with even if it is replaced
// or unlinked meanwhile).
struct HttpFileBody {
  std::shared_ptr<const int> fd;  // closes the descriptor when the last owner goes
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};
// Wraps a descriptor the caller owns into a shared owner that closes it.
std::shared_ptr<const int> share_fd(int fd);

struct HttpResponse {
  int status = 200;
  HttpHeaders headers;
  std::string body;
  // Close the connection after this response (e.g. after refusing an oversized body).
  bool close_connection = false;
  // When set, the body is streamed from this file instead of `body`.
  std::optional<HttpFileBody> file_body = std::nullopt;
  // A response to HEAD: announce this Content-Length without sending a body.
  std::optional<std::uint64_t> head_content_length = std::nullopt;
};

// Splits a request target into its path (still percent-encoded) and its query string.
struct SplitTarget {
  std::string_view path;
  std::string_view query;
};
SplitTarget split_target(std::string_view target);

// Percent-decodes a path segment or query component. Returns nullopt on malformed escapes.
// With plus_as_space, '+' decodes to ' ' (form encoding, used in query strings).
std::optional<std::string> percent_decode(std::string_view in, bool plus_as_space = false);

// Splits "a=1&b=2&c" into raw (still encoded) key/value views; empty parts are skipped.
std::vector<std::pair<std::string_view, std::string_view>> split_query(std::string_view query);

// Parses "a=1&b=2" into decoded pairs; malformed escapes yield nullopt.
std::optional<std::vector<std::pair<std::string, std::string>>> parse_query(std::string_view query);

}  // namespace stratus
