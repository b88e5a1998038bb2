#pragma once
// Small pieces every S3 response is made of: S3's two date formats, quoted ETags, XML bodies, and
// the headers that describe a stored object.

#include <cstdint>
#include <string>

#include "stratus/common/http_message.hpp"
#include "stratus/emulator/s3/object_file.hpp"

namespace stratus::emulator::s3 {

// "2026-11-21T10:00:00.000Z", as in XML bodies.
std::string iso8601(std::int64_t epoch_ms);
// "Sat, 21 Nov 2026 10:00:00 GMT", as in Last-Modified.
std::string http_date(std::int64_t epoch_ms);
// Parses an HTTP date (IMF-fixdate); nullopt if it is not one.
std::optional<std::int64_t> parse_http_date(const std::string& text);
// S3 sends ETags in double quotes, in headers and in XML.
std::string quoted_etag(const std::string& etag);

HttpResponse xml_response(int status, std::string body);

// Content-Type, ETag, Last-Modified, user metadata and the other stored headers of an object.
void add_object_headers(HttpResponse& response, const ObjectMeta& meta);

}  // namespace stratus::emulator::s3
