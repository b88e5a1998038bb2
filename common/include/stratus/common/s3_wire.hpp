#pragma once
// The pieces of S3's REST protocol that S3Client is built from, without any I/O: where a request
// goes, how keys are encoded, the XML it reads and writes, and how an upload is cut into parts.
// Public so they can be tested on their own (and reused by the emulator's tests).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stratus/common/http_client.hpp"
#include "stratus/common/s3_client.hpp"
#include "stratus/common/xml_escape.hpp"

namespace stratus::aws::s3 {

// ---- Addressing ----

// A bucket name that can be the first label of a host name: 3-63 of [a-z0-9-], starting and ending
// with a letter or digit, and not an IP address. With `allow_dots`, several such labels (each 1-63)
// separated by single dots.
bool is_dns_compatible_bucket(std::string_view bucket, bool allow_dots);
// A host of AWS's own S3 endpoints (*.amazonaws.com, *.amazonaws.com.cn), not an address literal.
bool is_aws_endpoint(const Endpoint& endpoint);
// Whether a request for `bucket` goes virtual-hosted style (see S3AddressingStyle): never for IP
// endpoints, never for dotted names over HTTPS.
bool use_virtual_host(const Endpoint& endpoint, S3AddressingStyle style, std::string_view bucket);

// Percent-encodes a key for the request path: every byte except A-Z a-z 0-9 - _ . ~ and '/'
// becomes %XX, once. That path is also what SigV4 signs for S3 (PathEncoding::AsIs).
std::string encode_key(std::string_view key);
// "a=1&b" from ordered pairs, names and values encoded as SigV4 requires; an empty value drops the
// '=' ("?uploads").
std::string encode_query(const std::vector<std::pair<std::string, std::string>>& params);

struct RequestLocation {
  Endpoint endpoint;   // the host the request goes to (bucket.host for virtual-hosted style)
  std::string target;  // encoded path and query, exactly as sent and signed
};
// `key` empty addresses the bucket itself; `bucket` empty the service (ListBuckets). Throws
// std::invalid_argument for a bucket name with characters S3 never allows.
RequestLocation locate(const Endpoint& endpoint, S3AddressingStyle style, std::string_view bucket,
                       std::string_view key, std::string_view query = {});

// ---- XML responses ----

// S3's documents nest a few levels; deeper input is refused before parsing (Boost.PropertyTree's
// parser recurses once per level and would overflow the stack on hostile input).
inline constexpr int kMaxXmlDepth = 32;

// Thrown as S3Error{status, "MalformedResponse"} by the parsers below.
struct ErrorDocument {
  std::string code;
  std::string message;
  std::string request_id;
  std::string host_id;
  std::string region;    // <Region>, sent with some redirects
  std::string endpoint;  // <Endpoint>, sent with PermanentRedirect
};
// The <Error> document of a failed request; nullopt when `body` is not one (empty, other root, not
// XML at all).
std::optional<ErrorDocument> parse_error(std::string_view body);

// A ListObjectsV2 response. When it says <EncodingType>url</EncodingType> (the request asked for
// encoding-type=url), keys and prefixes are decoded the way S3 encodes them ('+' is a space).
S3ListPage parse_list_objects_v2(std::string_view body);
// The UploadId of an InitiateMultipartUploadResult.
std::string parse_initiate_multipart_upload(std::string_view body);
// The ETag of a CompleteMultipartUploadResult. A 200 response to CompleteMultipartUpload may carry
// an <Error> document instead: callers check parse_error first.
std::string parse_complete_multipart_upload(std::string_view body);
// A ListMultipartUploadsResult, decoded like parse_list_objects_v2.
std::vector<S3MultipartUploadInfo> parse_list_multipart_uploads(std::string_view body);

// ---- XML requests ----

using stratus::xml_escape;  // stratus/common/xml_escape.hpp
// <CompleteMultipartUpload> listing parts 1..N with these ETags (quotes included).
std::string complete_multipart_upload_body(const std::vector<std::string>& etags);
// <CreateBucketConfiguration> with the region as LocationConstraint; "" for us-east-1, where S3
// wants no body.
std::string create_bucket_body(std::string_view region);

// ---- Parts and ranges ----

inline constexpr std::uint64_t kMinPartSize = 5ull << 20;  // except the last part
inline constexpr std::uint64_t kMaxPartSize = 5ull << 30;
inline constexpr std::uint32_t kMaxParts = 10000;
inline constexpr std::uint64_t kMaxSinglePutSize = 5ull << 30;

struct PartPlan {
  std::uint64_t object_size = 0;
  std::uint64_t part_size = 0;
  std::uint32_t count = 0;

  std::uint64_t offset(std::uint32_t index) const { return index * part_size; }
  std::uint64_t size(std::uint32_t index) const;  // the last part may be shorter
};
// Cuts an upload into parts of `preferred_part_size`, raised to kMinPartSize, and raised further
// (to whole MiB) when that would make more than kMaxParts parts. Throws std::invalid_argument when
// even kMaxPartSize parts cannot hold the object (over 48.8 TiB).
PartPlan plan_parts(std::uint64_t object_size, std::uint64_t preferred_part_size);

// "bytes=first-last" for [offset, offset + length); length must be > 0.
std::string range_header(std::uint64_t offset, std::uint64_t length);
struct ContentRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;   // inclusive
  std::uint64_t total = 0;  // complete length of the object
};
// "bytes 0-99/1234"; nullopt for anything else (including "bytes */1234" and an unknown total).
std::optional<ContentRange> parse_content_range(std::string_view value);

// ---- Digests ----

std::string md5(std::string_view data);  // 16 raw bytes
std::string md5_hex(std::string_view data);
// The ETag S3 gives a multipart object: hex MD5 of the concatenated raw part digests, "-", count.
std::string multipart_etag(const std::vector<std::string>& part_md5s);
// An ETag without its surrounding double quotes (and without a weak "W/" prefix).
std::string_view unquote_etag(std::string_view etag);

}  // namespace stratus::aws::s3
