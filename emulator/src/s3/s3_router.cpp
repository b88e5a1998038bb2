#include "stratus/emulator/s3/s3_router.hpp"

#include <array>

#include "stratus/common/http_message.hpp"

namespace stratus::emulator::s3 {

const char* s3_operation_name(S3Operation op) {
  switch (op) {
    case S3Operation::ListBuckets: return "ListBuckets";
    case S3Operation::CreateBucket: return "CreateBucket";
    case S3Operation::HeadBucket: return "HeadBucket";
    case S3Operation::DeleteBucket: return "DeleteBucket";
    case S3Operation::GetBucketLocation: return "GetBucketLocation";
    case S3Operation::ListObjectsV2: return "ListObjectsV2";
    case S3Operation::ListObjects: return "ListObjects";
    case S3Operation::ListMultipartUploads: return "ListMultipartUploads";
    case S3Operation::DeleteObjects: return "DeleteObjects";
    case S3Operation::PutObject: return "PutObject";
    case S3Operation::CopyObject: return "CopyObject";
    case S3Operation::GetObject: return "GetObject";
    case S3Operation::HeadObject: return "HeadObject";
    case S3Operation::DeleteObject: return "DeleteObject";
    case S3Operation::CreateMultipartUpload: return "CreateMultipartUpload";
    case S3Operation::UploadPart: return "UploadPart";
    case S3Operation::UploadPartCopy: return "UploadPartCopy";
    case S3Operation::CompleteMultipartUpload: return "CompleteMultipartUpload";
    case S3Operation::AbortMultipartUpload: return "AbortMultipartUpload";
    case S3Operation::ListParts: return "ListParts";
    case S3Operation::NotImplemented: return "NotImplemented";
    case S3Operation::MethodNotAllowed: return "MethodNotAllowed";
    case S3Operation::Invalid: return "Invalid";
  }
  return "Unknown";
}

namespace {

// Query parameters that are options of the operations served, not sub-resources.
bool is_option(const std::string& name) {
  static const std::array<std::string_view, 22> options = {
      "list-type", "prefix", "delimiter", "max-keys", "continuation-token", "start-after", "encoding-type",
      "fetch-owner", "marker", "partNumber", "uploadId", "uploads", "delete", "location", "max-parts",
      "part-number-marker", "max-uploads", "key-marker", "upload-id-marker", "x-id", "versionId",
      "response-content-type"};
  if (name.rfind("response-", 0) == 0) return true;
  if (name.rfind("X-Amz-", 0) == 0 || name.rfind("x-amz-", 0) == 0) return true;  // presigned URLs
  for (auto o : options) {
    if (name == o) return true;
  }
  return false;
}

}  // namespace

S3Route route_s3(std::string_view method, std::string_view target, bool has_copy_source) {
  S3Route route;
  SplitTarget parts = split_target(target);
  auto query = parse_query(parts.query);
  if (!query) {
    route.detail = "the query string does not decode";
    return route;
  }
  for (auto& [k, v] : *query) route.query[k] = v;
  std::string_view path = parts.path;
  if (path.empty() || path.front() != '/') {
    route.detail = "the path must start with '/'";
    return route;
  }
  path.remove_prefix(1);
  auto slash = path.find('/');
  auto bucket = percent_decode(path.substr(0, slash));
  if (!bucket) {
    route.detail = "the bucket name does not decode";
    return route;
  }
  route.bucket = *bucket;
  if (slash != std::string_view::npos && slash + 1 < path.size()) {
    auto key = percent_decode(path.substr(slash + 1));
    if (!key) {
      route.detail = "the key does not decode";
      return route;
    }
    route.key = *key;
  }
  for (const auto& [name, value] : route.query) {
    if (!is_option(name)) {
      route.operation = S3Operation::NotImplemented;
      route.detail = "the '" + name + "' sub-resource is not supported by this emulator";
      return route;
    }
  }
  auto has = [&](const char* name) { return route.query.count(name) > 0; };
  auto set = [&](S3Operation op) {
    route.operation = op;
    return route;
  };

  if (route.bucket.empty()) {
    if (method == "GET") return set(S3Operation::ListBuckets);
    return set(S3Operation::MethodNotAllowed);
  }
  if (route.key.empty()) {
    if (method == "PUT") return set(S3Operation::CreateBucket);
    if (method == "HEAD") return set(S3Operation::HeadBucket);
    if (method == "DELETE") return set(S3Operation::DeleteBucket);
    if (method == "POST" && has("delete")) return set(S3Operation::DeleteObjects);
    if (method == "GET") {
      if (has("location")) return set(S3Operation::GetBucketLocation);
      if (has("uploads")) return set(S3Operation::ListMultipartUploads);
      if (route.query.count("list-type") && route.query.at("list-type") == "2") return set(S3Operation::ListObjectsV2);
      return set(S3Operation::ListObjects);
    }
    return set(S3Operation::MethodNotAllowed);
  }
  if (method == "PUT") {
    if (has("partNumber") || has("uploadId")) {
      return set(has_copy_source ? S3Operation::UploadPartCopy : S3Operation::UploadPart);
    }
    return set(has_copy_source ? S3Operation::CopyObject : S3Operation::PutObject);
  }
  if (method == "GET") return set(has("uploadId") ? S3Operation::ListParts : S3Operation::GetObject);
  if (method == "HEAD") return set(S3Operation::HeadObject);
  if (method == "DELETE") return set(has("uploadId") ? S3Operation::AbortMultipartUpload : S3Operation::DeleteObject);
  if (method == "POST") {
    if (has("uploads")) return set(S3Operation::CreateMultipartUpload);
    if (has("uploadId")) return set(S3Operation::CompleteMultipartUpload);
  }
  return set(S3Operation::MethodNotAllowed);
}

bool is_s3_write_class(S3Operation op) {
  switch (op) {
    case S3Operation::CreateBucket:
    case S3Operation::ListBuckets:
    case S3Operation::ListObjectsV2:
    case S3Operation::ListObjects:
    case S3Operation::ListMultipartUploads:
    case S3Operation::ListParts:
    case S3Operation::DeleteObjects:
    case S3Operation::PutObject:
    case S3Operation::CopyObject:
    case S3Operation::CreateMultipartUpload:
    case S3Operation::UploadPart:
    case S3Operation::UploadPartCopy:
    case S3Operation::CompleteMultipartUpload:
      return true;
    default:
      return false;
  }
}

}  // namespace stratus::emulator::s3
