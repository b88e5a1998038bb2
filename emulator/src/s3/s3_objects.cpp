// The S3 endpoint's object operations: put (streamed), copy, get/head (streamed from the file,
// ranges, conditions), delete, and multipart uploads.

#include <spdlog/spdlog.h>

#include "stratus/common/sigv4.hpp"
#include "stratus/emulator/s3/object_upload.hpp"
#include "stratus/emulator/s3/s3_api.hpp"
#include "stratus/emulator/s3/s3_names.hpp"
#include "stratus/emulator/s3/s3_response.hpp"
#include "stratus/emulator/s3/s3_xml.hpp"

namespace stratus::emulator::s3 {

namespace {

// S3 limits user-defined metadata (names and values of x-amz-meta-*) to 2 KB per object.
constexpr std::size_t kMaxUserMetadataBytes = 2048;
constexpr int kMaxPartNumber = 10000;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The stored headers of a new object, from its PUT / CreateMultipartUpload / CopyObject request.
ObjectMeta meta_from_headers(const HttpRequestHead& head, const std::string& key) {
  ObjectMeta meta;
  meta.key = key;
  meta.content_type = head.headers.get("Content-Type");
  meta.content_disposition = head.headers.get("Content-Disposition");
  meta.cache_control = head.headers.get("Cache-Control");
  // aws-chunked is how the body travelled, not how the object is encoded.
  std::string encoding;
  const std::string all = head.headers.get("Content-Encoding");
  std::size_t start = 0;
  while (start <= all.size()) {
    auto comma = all.find(',', start);
    std::string part = all.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    while (!part.empty() && part.front() == ' ') part.erase(0, 1);
    while (!part.empty() && part.back() == ' ') part.pop_back();
    if (!part.empty() && lower(part) != "aws-chunked") encoding += (encoding.empty() ? "" : ",") + part;
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  meta.content_encoding = encoding;
  std::size_t metadata_bytes = 0;
  for (const auto& field : head.headers.fields()) {
    std::string name = lower(field.name);
    if (name.rfind("x-amz-meta-", 0) != 0) continue;
    std::string short_name = name.substr(11);
    metadata_bytes += short_name.size() + field.value.size();
    meta.user_metadata[short_name] = field.value;
  }
  if (metadata_bytes > kMaxUserMetadataBytes) {
    throw S3Exception(S3ErrorCode::MetadataTooLarge, "Your metadata headers exceed the maximum allowed metadata size.");
  }
  return meta;
}

std::string param(const S3Route& route, const char* name) {
  auto it = route.query.find(name);
  return it == route.query.end() ? std::string() : it->second;
}

int part_number_of(const S3Route& route) {
  std::string text = param(route, "partNumber");
  int n = 0;
  try {
    std::size_t used = 0;
    n = std::stoi(text, &used);
    if (used != text.size()) n = 0;
  } catch (const std::exception&) {
  }
  if (n < 1 || n > kMaxPartNumber) {
    throw S3Exception(S3ErrorCode::InvalidArgument, "Part number must be an integer between 1 and 10000, inclusive");
  }
  return n;
}

// Rethrows a disk-side failure as the S3 error to answer with.
S3Exception to_s3_error(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const S3Exception& e) {
    return e;
  } catch (const ObjectStoreError& e) {
    return s3_error_for(e);
  } catch (const std::exception& e) {
    spdlog::error("s3: storing an object failed: {}", e.what());
    return S3Exception(S3ErrorCode::InternalError, std::string("We encountered an internal error: ") + e.what());
  }
}

}  // namespace

void S3Api::put_object(const S3Route& route, HttpRequest& request, const std::string&, HttpResponder respond) {
  UploadResult upload = finish_upload(route, request);
  ObjectMeta meta = meta_from_headers(request, route.key);
  meta.size = upload.size;
  meta.md5_hex = upload.md5_hex;
  meta.etag = upload.md5_hex;
  if (upload.checksum) meta.checksums[std::string(checksum_algorithm_name(*upload.checksum))] = upload.checksum_value;
  auto bucket = route.bucket;
  auto resource = "/" + route.bucket + "/" + route.key;
  store_.commit_object(route.bucket, std::move(upload.file), std::move(meta),
                       [respond, resource, upload_checksum = upload.checksum,
                        checksum_value = upload.checksum_value](std::exception_ptr error, const ObjectMeta& stored) {
                         if (error) return respond(error_response(to_s3_error(error), resource, "", false));
                         HttpResponse response;
                         response.headers.add("ETag", quoted_etag(stored.etag));
                         if (upload_checksum) {
                           response.headers.add(std::string(checksum_header_name(*upload_checksum)), checksum_value);
                         }
                         respond(std::move(response));
                       });
}

void S3Api::copy_object(const S3Route& route, const HttpRequest& request, const std::string&, HttpResponder respond) {
  require_bucket(route.bucket);
  require_valid_key(route.key);
  // x-amz-copy-source: "[/]bucket/key[?versionId=...]", the key URL-encoded.
  std::string source = request.headers.get("x-amz-copy-source");
  if (auto q = source.find('?'); q != std::string::npos) source.resize(q);
  if (!source.empty() && source.front() == '/') source.erase(0, 1);
  auto slash = source.find('/');
  std::optional<std::string> source_bucket, source_key;
  if (slash != std::string::npos) {
    source_bucket = percent_decode(source.substr(0, slash));
    source_key = percent_decode(source.substr(slash + 1));
  }
  if (!source_bucket || !source_key || source_key->empty()) {
    throw S3Exception(S3ErrorCode::InvalidArgument, "Copy Source must mention the source bucket and key: sourcebucket/sourcekey");
  }
  require_bucket(*source_bucket);
  OpenObject original = store_.open_object(*source_bucket, *source_key);
  std::string directive = request.headers.get("x-amz-metadata-directive", "COPY");
  if (directive != "COPY" && directive != "REPLACE") {
    throw S3Exception(S3ErrorCode::InvalidArgument, "Unknown metadata directive.");
  }
  if (*source_bucket == route.bucket && *source_key == route.key && directive == "COPY") {
    throw S3Exception(S3ErrorCode::InvalidRequest,
                      "This copy request is illegal because it is trying to copy an object to itself without "
                      "changing the object's metadata, storage class, website redirect location or encryption "
                      "attributes.");
  }
  std::string if_match = request.headers.get("x-amz-copy-source-if-match");
  if (!if_match.empty() && if_match != quoted_etag(original.meta.etag) && if_match != original.meta.etag) {
    throw S3Exception(S3ErrorCode::PreconditionFailed, "At least one of the pre-conditions you specified did not hold");
  }
  ObjectMeta meta;
  if (directive == "REPLACE") {
    meta = meta_from_headers(request, route.key);
  } else {
    meta = original.meta;
    meta.key = route.key;
  }
  auto resource = "/" + route.bucket + "/" + route.key;
  store_.copy_object(*source_bucket, *source_key, route.bucket, std::move(meta),
                     [respond, resource](std::exception_ptr error, const ObjectMeta& stored) {
                       if (error) return respond(error_response(to_s3_error(error), resource, "", false));
                       XmlWriter xml;
                       xml.open_s3("CopyObjectResult");
                       xml.element("LastModified", iso8601(stored.last_modified_ms));
                       xml.element("ETag", quoted_etag(stored.etag));
                       xml.close();
                       respond(xml_response(200, xml.finish()));
                     });
}

HttpResponse S3Api::get_object(const S3Route& route, const HttpRequest& request, bool head, const std::string& request_id,
                               std::uint64_t& bytes_out) {
  require_bucket(route.bucket);
  require_valid_key(route.key);
  if (route.query.count("partNumber")) {
    throw S3Exception(S3ErrorCode::NotImplemented, "GetObject by partNumber is not implemented by this emulator.");
  }
  OpenObject object = store_.open_object(route.bucket, route.key);
  const ObjectMeta& meta = object.meta;

  // Conditions, in the order S3 evaluates them.
  std::string quoted = quoted_etag(meta.etag);
  auto matches = [&](const std::string& list) {
    if (list == "*") return true;
    std::size_t start = 0;
    while (start < list.size()) {
      auto comma = list.find(',', start);
      std::string tag = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      while (!tag.empty() && tag.front() == ' ') tag.erase(0, 1);
      while (!tag.empty() && tag.back() == ' ') tag.pop_back();
      if (tag == quoted || tag == meta.etag) return true;
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    return false;
  };
  std::int64_t modified_s = meta.last_modified_ms / 1000;
  const std::string* if_match = request.headers.find("If-Match");
  const std::string* if_none_match = request.headers.find("If-None-Match");
  if (if_match && !matches(*if_match)) {
    throw S3Exception(S3ErrorCode::PreconditionFailed, "At least one of the pre-conditions you specified did not hold");
  }
  if (!if_match) {
    if (const std::string* since = request.headers.find("If-Unmodified-Since")) {
      auto t = parse_http_date(*since);
      if (t && modified_s > *t / 1000) {
        throw S3Exception(S3ErrorCode::PreconditionFailed, "At least one of the pre-conditions you specified did not hold");
      }
    }
  }
  bool not_modified = false;
  if (if_none_match) {
    not_modified = matches(*if_none_match);
  } else if (const std::string* since = request.headers.find("If-Modified-Since")) {
    auto t = parse_http_date(*since);
    not_modified = t && modified_s <= *t / 1000;
  }
  if (not_modified) {
    HttpResponse response;
    response.status = 304;
    response.headers.add("ETag", quoted);
    response.headers.add("Last-Modified", http_date(meta.last_modified_ms));
    response.head_content_length = 0;
    return response;
  }

  HttpResponse response;
  add_object_headers(response, meta);
  // response-* query parameters override the stored headers (used for presigned downloads).
  static const std::pair<const char*, const char*> overrides[] = {
      {"response-content-type", "Content-Type"},
      {"response-content-disposition", "Content-Disposition"},
      {"response-content-encoding", "Content-Encoding"},
      {"response-cache-control", "Cache-Control"},
      {"response-content-language", "Content-Language"},
      {"response-expires", "Expires"}};
  for (const auto& [query, header] : overrides) {
    auto it = route.query.find(query);
    if (it != route.query.end()) response.headers.set(header, it->second);
  }
  ByteRange range{0, meta.size};
  const std::string* range_header = request.headers.find("Range");
  RangeOutcome outcome = range_header ? parse_range(*range_header, meta.size, range) : RangeOutcome::whole;
  if (outcome == RangeOutcome::unsatisfiable) {
    S3ErrorDetails details;
    details.key = route.key;
    details.extra = {{"RangeRequested", *range_header}, {"ActualObjectSize", std::to_string(meta.size)}};
    HttpResponse refused = error_response(
        S3Exception(S3ErrorCode::InvalidRange, "The requested range is not satisfiable", details),
        "/" + route.bucket + "/" + route.key, request_id, head);
    refused.headers.add("Content-Range", "bytes */" + std::to_string(meta.size));
    return refused;
  }
  if (outcome == RangeOutcome::partial) {
    response.status = 206;
    response.headers.add("Content-Range", "bytes " + std::to_string(range.offset) + "-" +
                                              std::to_string(range.offset + range.length - 1) + "/" +
                                              std::to_string(meta.size));
  } else {
    range = {0, meta.size};
    // Stored checksums describe the whole object; S3 returns them when asked to.
    if (iequals(request.headers.get("x-amz-checksum-mode"), "ENABLED")) {
      for (const auto& [algorithm, value] : meta.checksums) {
        if (auto alg = checksum_algorithm_from_name(algorithm)) {
          response.headers.add(std::string(checksum_header_name(*alg)), value);
        }
      }
    }
  }
  if (head) {
    response.head_content_length = range.length;
  } else {
    response.file_body = HttpFileBody{object.fd, range.offset, range.length};
    bytes_out = range.length;
  }
  return response;
}

HttpResponse S3Api::delete_object(const S3Route& route, const std::string&) {
  require_bucket(route.bucket);
  require_valid_key(route.key);
  store_.delete_object(route.bucket, route.key);
  HttpResponse response;
  response.status = 204;
  return response;
}

HttpResponse S3Api::create_upload(const S3Route& route, const HttpRequest& request, const std::string&) {
  require_bucket(route.bucket);
  require_valid_key(route.key);
  ObjectMeta meta = meta_from_headers(request, route.key);
  std::string id = store_.create_upload(route.bucket, meta);
  spdlog::info("s3 CreateMultipartUpload /{}/{} -> upload {}", route.bucket, route.key, id);
  XmlWriter xml;
  xml.open_s3("InitiateMultipartUploadResult");
  xml.element("Bucket", route.bucket);
  xml.element("Key", route.key);
  xml.element("UploadId", id);
  xml.close();
  return xml_response(200, xml.finish());
}

void S3Api::upload_part(const S3Route& route, HttpRequest& request, const std::string&, HttpResponder respond) {
  int number = part_number_of(route);
  UploadResult upload = finish_upload(route, request);
  const UploadInfo& info = store_.find_upload(route.bucket, param(route, "uploadId"));
  if (info.key != route.key) {
    throw S3Exception(S3ErrorCode::NoSuchUpload, "The specified upload does not exist for this key.");
  }
  ObjectMeta meta;
  meta.key = route.key;
  meta.size = upload.size;
  meta.md5_hex = upload.md5_hex;
  meta.etag = upload.md5_hex;
  if (upload.checksum) meta.checksums[std::string(checksum_algorithm_name(*upload.checksum))] = upload.checksum_value;
  auto resource = "/" + route.bucket + "/" + route.key;
  store_.commit_part(route.bucket, param(route, "uploadId"), number, std::move(upload.file), std::move(meta),
                     [respond, resource, checksum = upload.checksum,
                      value = upload.checksum_value](std::exception_ptr error, const ObjectMeta& stored) {
                       if (error) return respond(error_response(to_s3_error(error), resource, "", false));
                       HttpResponse response;
                       response.headers.add("ETag", quoted_etag(stored.etag));
                       if (checksum) response.headers.add(std::string(checksum_header_name(*checksum)), value);
                       respond(std::move(response));
                     });
}

void S3Api::complete_upload(const S3Route& route, const HttpRequest& request, const std::string&,
                            HttpResponder respond) {
  require_bucket(route.bucket);
  const UploadInfo& info = store_.find_upload(route.bucket, param(route, "uploadId"));
  if (info.key != route.key) {
    throw S3Exception(S3ErrorCode::NoSuchUpload, "The specified upload does not exist for this key.");
  }
  std::vector<CompletedPart> parts;
  try {
    parts = parse_complete_multipart_upload(request.body);
  } catch (const S3XmlError& e) {
    throw S3Exception(S3ErrorCode::MalformedXML, std::string("The XML you provided was not well-formed or did not "
                                                             "validate against our published schema: ") + e.what());
  }
  std::string host = request.headers.get("Host", "localhost");
  auto resource = "/" + route.bucket + "/" + route.key;
  std::string location = "http://" + host + "/" + route.bucket + "/" + aws::uri_encode(route.key, true);
  std::string bucket = route.bucket;
  store_.complete_upload(route.bucket, param(route, "uploadId"), std::move(parts),
                         [respond, resource, location, bucket](std::exception_ptr error, const ObjectMeta& stored) {
                           if (error) return respond(error_response(to_s3_error(error), resource, "", false));
                           spdlog::info("s3 CompleteMultipartUpload {} -> {} bytes in {} parts", resource,
                                        stored.size, stored.parts);
                           XmlWriter xml;
                           xml.open_s3("CompleteMultipartUploadResult");
                           xml.element("Location", location);
                           xml.element("Bucket", bucket);
                           xml.element("Key", stored.key);
                           xml.element("ETag", quoted_etag(stored.etag));
                           xml.close();
                           respond(xml_response(200, xml.finish()));
                         });
}

HttpResponse S3Api::abort_upload(const S3Route& route, const std::string&) {
  require_bucket(route.bucket);
  store_.abort_upload(route.bucket, param(route, "uploadId"));
  HttpResponse response;
  response.status = 204;
  return response;
}

HttpResponse S3Api::list_parts(const S3Route& route, const std::string&) {
  require_bucket(route.bucket);
  const std::string upload_id = param(route, "uploadId");
  const UploadInfo& info = store_.find_upload(route.bucket, upload_id);
  int marker = 0;
  int max_parts = 1000;
  try {
    if (route.query.count("part-number-marker")) marker = std::stoi(param(route, "part-number-marker"));
    if (route.query.count("max-parts")) max_parts = std::clamp(std::stoi(param(route, "max-parts")), 0, 1000);
  } catch (const std::exception&) {
    throw S3Exception(S3ErrorCode::InvalidArgument, "part-number-marker and max-parts must be integers");
  }
  auto parts = store_.list_parts(route.bucket, upload_id);
  XmlWriter xml;
  xml.open_s3("ListPartsResult");
  xml.element("Bucket", route.bucket);
  xml.element("Key", info.key);
  xml.element("UploadId", upload_id);
  xml.element("PartNumberMarker", std::to_string(marker));
  int shown = 0;
  int last = marker;
  bool truncated = false;
  for (const auto& p : parts) {
    if (p.number <= marker) continue;
    if (shown == max_parts) {
      truncated = true;
      break;
    }
    xml.open("Part");
    xml.element("PartNumber", std::to_string(p.number));
    xml.element("LastModified", iso8601(p.last_modified_ms));
    xml.element("ETag", quoted_etag(p.etag));
    xml.element("Size", std::to_string(p.size));
    xml.close();
    last = p.number;
    ++shown;
  }
  xml.element("NextPartNumberMarker", std::to_string(last));
  xml.element("MaxParts", std::to_string(max_parts));
  xml.element("IsTruncated", truncated ? "true" : "false");
  xml.element("StorageClass", "STANDARD");
  xml.close();
  return xml_response(200, xml.finish());
}

}  // namespace stratus::emulator::s3
