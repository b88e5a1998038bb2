#include "stratus/emulator/s3/s3_response.hpp"

#include <ctime>

#include "stratus/common/utc_time.hpp"

namespace stratus::emulator::s3 {

namespace {

std::chrono::system_clock::time_point from_ms(std::int64_t ms) {
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

}  // namespace

std::string iso8601(std::int64_t epoch_ms) { return format_utc_millis(from_ms(epoch_ms), "Z"); }

std::string http_date(std::int64_t epoch_ms) {
  return format_utc(from_ms(epoch_ms), "%a, %d %b %Y %H:%M:%S GMT");
}

std::optional<std::int64_t> parse_http_date(const std::string& text) {
  std::tm tm{};
  const char* end = ::strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end != '\0') return std::nullopt;
  return static_cast<std::int64_t>(::timegm(&tm)) * 1000;
}

std::string quoted_etag(const std::string& etag) { return "\"" + etag + "\""; }

HttpResponse xml_response(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.headers.add("Content-Type", "application/xml");
  response.body = std::move(body);
  return response;
}

void add_object_headers(HttpResponse& response, const ObjectMeta& meta) {
  response.headers.add("ETag", quoted_etag(meta.etag));
  response.headers.add("Last-Modified", http_date(meta.last_modified_ms));
  response.headers.add("Content-Type", meta.content_type.empty() ? "binary/octet-stream" : meta.content_type);
  response.headers.add("Accept-Ranges", "bytes");
  if (!meta.content_encoding.empty()) response.headers.add("Content-Encoding", meta.content_encoding);
  if (!meta.content_disposition.empty()) response.headers.add("Content-Disposition", meta.content_disposition);
  if (!meta.cache_control.empty()) response.headers.add("Cache-Control", meta.cache_control);
  for (const auto& [name, value] : meta.user_metadata) response.headers.add("x-amz-meta-" + name, value);
}

}  // namespace stratus::emulator::s3
