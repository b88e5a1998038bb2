#pragma once
// Every S3 error the emulator answers with, in one table: the code S3 puts in <Code>, its HTTP
// status (from the S3 API reference "Error responses" list) and a default message. The XML body
// is built here too, so every error reply has the same shape:
//
//   <?xml version="1.0" encoding="UTF-8"?>
//   <Error><Code>NoSuchKey</Code><Message>...</Message><Key>k</Key><Resource>/b/k</Resource>
//   <RequestId>...</RequestId></Error>

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace stratus::emulator::s3 {

enum class S3ErrorCode {
  AccessDenied,                        // 403
  AuthorizationHeaderMalformed,        // 400
  AuthorizationQueryParametersError,   // 400
  BadDigest,                           // 400 (Content-MD5 or x-amz-checksum-* mismatch)
  BucketAlreadyExists,                 // 409
  BucketAlreadyOwnedByYou,             // 409 (us-east-1 answers 200 instead, for legacy reasons)
  BucketNotEmpty,                      // 409
  EntityTooLarge,                      // 400
  EntityTooSmall,                      // 400
  ExpiredToken,                        // 400
  IllegalLocationConstraintException,  // 400
  IncompleteBody,                      // 400
  InternalError,                       // 500
  InvalidAccessKeyId,                  // 403
  InvalidArgument,                     // 400
  InvalidBucketName,                   // 400
  InvalidDigest,                       // 400
  InvalidLocationConstraint,           // 400
  InvalidPart,                         // 400
  InvalidPartOrder,                    // 400
  InvalidRange,                        // 416
  InvalidRequest,                      // 400
  InvalidStorageClass,                 // 400
  InvalidURI,                          // 400
  KeyTooLongError,                     // 400
  MalformedXML,                        // 400
  MaxMessageLengthExceeded,            // 400
  MetadataTooLarge,                    // 400
  MethodNotAllowed,                    // 405
  MissingContentLength,                // 411
  MissingRequestBodyError,             // 400
  MissingSecurityHeader,               // 400
  NoSuchBucket,                        // 404
  NoSuchKey,                           // 404
  NoSuchUpload,                        // 404
  NoSuchVersion,                       // 404
  NotImplemented,                      // 501
  NotModified,                         // 304 (conditional GET/HEAD; sent without a body)
  OperationAborted,                    // 409
  PreconditionFailed,                  // 412
  RequestTimeout,                      // 400
  RequestTimeTooSkewed,                // 403
  ServiceUnavailable,                  // 503
  SignatureDoesNotMatch,               // 403
  SlowDown,                            // 503
  TooManyBuckets,                      // 400
  XAmzContentSHA256Mismatch,           // 400
};

struct S3ErrorInfo {
  int status;
  std::string_view code;             // the <Code> text, e.g. "NoSuchKey"
  std::string_view default_message;  // S3's usual <Message> for it
};

const S3ErrorInfo& s3_error_info(S3ErrorCode code);

// Elements some errors carry besides Code/Message/Resource/RequestId: <BucketName> for bucket
// errors, <Key> for object errors, and anything else S3 adds for a code, in order, e.g.
// {"ArgumentName","max-keys"}, {"ArgumentValue","-1"}, {"Condition","If-Match"},
// {"ActualObjectSize","0"}, {"RangeRequested","bytes=5-"}, {"UploadId", ...}.
struct S3ErrorDetails {
  std::string bucket_name;
  std::string key;
  std::vector<std::pair<std::string, std::string>> extra;
};

// The full XML body. An empty `message` uses the default message; an empty `resource` or
// `request_id` leaves that element out. Text is XML-escaped; element names in `details.extra`
// must be plain names (they are not validated: they come from code, never from requests).
std::string s3_error_xml(S3ErrorCode code, std::string_view message, std::string_view resource,
                         std::string_view request_id, const S3ErrorDetails& details = {});

// Thrown by S3 operations for a request that must be refused; the S3 front turns it into
// s3_error_xml() and the status in one place. what() is the message (the default when none).
class S3Exception : public std::runtime_error {
 public:
  explicit S3Exception(S3ErrorCode error_code, std::string message = {},
                       S3ErrorDetails error_details = {});
  int status() const { return s3_error_info(code).status; }

  S3ErrorCode code;
  S3ErrorDetails details;
};

enum class StoreFailure;
class ObjectStoreError;
// The S3 error for a refusal of the object store (object_store.hpp), its message kept.
S3Exception s3_error_for(const ObjectStoreError& error);

}  // namespace stratus::emulator::s3
