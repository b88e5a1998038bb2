#pragma once
// Which S3 operation a path-style request is: "/" (the service), "/bucket" or "/bucket/key", with
// the method and the sub-resource in the query (?uploads, ?uploadId=, ?delete, ?list-type=2, ...).

#include <map>
#include <string>
#include <string_view>

namespace stratus::emulator::s3 {

enum class S3Operation {
  ListBuckets,
  CreateBucket,
  HeadBucket,
  DeleteBucket,
  GetBucketLocation,
  ListObjectsV2,
  ListObjects,
  ListMultipartUploads,
  DeleteObjects,
  PutObject,
  CopyObject,
  GetObject,
  HeadObject,
  DeleteObject,
  CreateMultipartUpload,
  UploadPart,
  UploadPartCopy,
  CompleteMultipartUpload,
  AbortMultipartUpload,
  ListParts,
  NotImplemented,  // a sub-resource this emulator does not serve (?acl, ?tagging, ...)
  MethodNotAllowed,
  Invalid,  // the path or query does not decode
};

const char* s3_operation_name(S3Operation op);

struct S3Route {
  S3Operation operation = S3Operation::Invalid;
  std::string bucket;
  std::string key;  // decoded; may contain anything, including "../" and "//"
  std::map<std::string, std::string> query;  // decoded
  std::string detail;  // for NotImplemented/Invalid: what was not understood
};

// `has_copy_source` tells PUTs with x-amz-copy-source apart (CopyObject, UploadPartCopy).
S3Route route_s3(std::string_view method, std::string_view target, bool has_copy_source);

// Reads and writes: S3 prices PUT, COPY, POST and LIST requests at one rate, GET and the rest at
// another.
bool is_s3_write_class(S3Operation op);

}  // namespace stratus::emulator::s3
