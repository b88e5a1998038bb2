#include "stratus/emulator/s3/s3_error.hpp"

#include "stratus/emulator/s3/object_store.hpp"

#include <array>

#include "stratus/emulator/s3/s3_xml.hpp"

namespace stratus::emulator::s3 {
namespace {

struct Entry {
  S3ErrorCode code;
  S3ErrorInfo info;
};

// Statuses from the S3 API reference "Error responses" list; messages are S3's usual wording.
// Kept in enum order: s3_error_info indexes it and a test checks the order.
constexpr std::array kErrors = {
    Entry{S3ErrorCode::AccessDenied, {403, "AccessDenied", "Access Denied"}},
    Entry{
        S3ErrorCode::AuthorizationHeaderMalformed,
        {400, "AuthorizationHeaderMalformed", "The authorization header you provided is invalid."}},
    Entry{S3ErrorCode::AuthorizationQueryParametersError,
          {400, "AuthorizationQueryParametersError",
           "The authorization query parameters you provided are invalid."}},
    Entry{S3ErrorCode::BadDigest,
          {400, "BadDigest",
           "The Content-MD5 or checksum you specified did not match what we received."}},
    Entry{S3ErrorCode::BucketAlreadyExists,
          {409, "BucketAlreadyExists",
           "The requested bucket name is not available. The bucket namespace is shared by all "
           "users of the system. Please select a different name and try again."}},
    Entry{S3ErrorCode::BucketAlreadyOwnedByYou,
          {409, "BucketAlreadyOwnedByYou",
           "Your previous request to create the named bucket succeeded and you already own it."}},
    Entry{S3ErrorCode::BucketNotEmpty,
          {409, "BucketNotEmpty", "The bucket you tried to delete is not empty"}},
    Entry{S3ErrorCode::EntityTooLarge,
          {400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size"}},
    Entry{S3ErrorCode::EntityTooSmall,
          {400, "EntityTooSmall",
           "Your proposed upload is smaller than the minimum allowed object size."}},
    Entry{S3ErrorCode::ExpiredToken, {400, "ExpiredToken", "The provided token has expired."}},
    Entry{S3ErrorCode::IllegalLocationConstraintException,
          {400, "IllegalLocationConstraintException",
           "The location constraint is incompatible with the region this request was sent to."}},
    Entry{S3ErrorCode::IncompleteBody,
          {400, "IncompleteBody",
           "You did not provide the number of bytes specified by the Content-Length HTTP header"}},
    Entry{S3ErrorCode::InternalError,
          {500, "InternalError", "We encountered an internal error. Please try again."}},
    Entry{S3ErrorCode::InvalidAccessKeyId,
          {403, "InvalidAccessKeyId",
           "The AWS Access Key Id you provided does not exist in our records."}},
    Entry{S3ErrorCode::InvalidArgument, {400, "InvalidArgument", "Invalid Argument"}},
    Entry{S3ErrorCode::InvalidBucketName,
          {400, "InvalidBucketName", "The specified bucket is not valid."}},
    Entry{S3ErrorCode::InvalidDigest,
          {400, "InvalidDigest", "The Content-MD5 you specified was invalid."}},
    Entry{S3ErrorCode::InvalidLocationConstraint,
          {400, "InvalidLocationConstraint", "The specified location constraint is not valid."}},
    Entry{S3ErrorCode::InvalidPart,
          {400, "InvalidPart",
           "One or more of the specified parts could not be found. The part may not have been "
           "uploaded, or the specified entity tag may not match the part's entity tag."}},
    Entry{S3ErrorCode::InvalidPartOrder,
          {400, "InvalidPartOrder",
           "The list of parts was not in ascending order. Parts must be ordered by part number."}},
    Entry{S3ErrorCode::InvalidRange,
          {416, "InvalidRange", "The requested range is not satisfiable"}},
    Entry{S3ErrorCode::InvalidRequest, {400, "InvalidRequest", "Invalid Request"}},
    Entry{S3ErrorCode::InvalidStorageClass,
          {400, "InvalidStorageClass", "The storage class you specified is not valid"}},
    Entry{S3ErrorCode::InvalidURI, {400, "InvalidURI", "Couldn't parse the specified URI."}},
    Entry{S3ErrorCode::KeyTooLongError, {400, "KeyTooLongError", "Your key is too long"}},
    Entry{S3ErrorCode::MalformedXML,
          {400, "MalformedXML",
           "The XML you provided was not well-formed or did not validate against our published "
           "schema"}},
    Entry{S3ErrorCode::MaxMessageLengthExceeded,
          {400, "MaxMessageLengthExceeded", "Your request was too big."}},
    Entry{S3ErrorCode::MetadataTooLarge,
          {400, "MetadataTooLarge",
           "Your metadata headers exceed the maximum allowed metadata size."}},
    Entry{S3ErrorCode::MethodNotAllowed,
          {405, "MethodNotAllowed", "The specified method is not allowed against this resource."}},
    Entry{S3ErrorCode::MissingContentLength,
          {411, "MissingContentLength", "You must provide the Content-Length HTTP header."}},
    Entry{S3ErrorCode::MissingRequestBodyError,
          {400, "MissingRequestBodyError", "Request Body is empty"}},
    Entry{S3ErrorCode::MissingSecurityHeader,
          {400, "MissingSecurityHeader", "Your request is missing a required header."}},
    Entry{S3ErrorCode::NoSuchBucket, {404, "NoSuchBucket", "The specified bucket does not exist"}},
    Entry{S3ErrorCode::NoSuchKey, {404, "NoSuchKey", "The specified key does not exist."}},
    Entry{S3ErrorCode::NoSuchUpload,
          {404, "NoSuchUpload",
           "The specified upload does not exist. The upload ID may be invalid, or the upload may "
           "have been aborted or completed."}},
    Entry{S3ErrorCode::NoSuchVersion,
          {404, "NoSuchVersion", "The specified version does not exist."}},
    Entry{S3ErrorCode::NotImplemented,
          {501, "NotImplemented",
           "A header you provided implies functionality that is not implemented"}},
    Entry{S3ErrorCode::NotModified, {304, "NotModified", "Not Modified"}},
    Entry{S3ErrorCode::OperationAborted,
          {409, "OperationAborted",
           "A conflicting conditional operation is currently in progress against this resource. "
           "Please try again."}},
    Entry{S3ErrorCode::PreconditionFailed,
          {412, "PreconditionFailed",
           "At least one of the preconditions you specified did not hold"}},
    Entry{S3ErrorCode::RequestTimeout,
          {400, "RequestTimeout",
           "Your socket connection to the server was not read from or written to within the "
           "timeout period."}},
    Entry{S3ErrorCode::RequestTimeTooSkewed,
          {403, "RequestTimeTooSkewed",
           "The difference between the request time and the current time is too large."}},
    Entry{S3ErrorCode::ServiceUnavailable,
          {503, "ServiceUnavailable", "Service is unable to handle request."}},
    Entry{S3ErrorCode::SignatureDoesNotMatch,
          {403, "SignatureDoesNotMatch",
           "The request signature we calculated does not match the signature you provided. Check "
           "your key and signing method."}},
    Entry{S3ErrorCode::SlowDown, {503, "SlowDown", "Please reduce your request rate."}},
    Entry{S3ErrorCode::TooManyBuckets,
          {400, "TooManyBuckets", "You have attempted to create more buckets than allowed"}},
    Entry{S3ErrorCode::XAmzContentSHA256Mismatch,
          {400, "XAmzContentSHA256Mismatch",
           "The provided 'x-amz-content-sha256' header does not match what was computed."}},
};

constexpr bool table_in_enum_order() {
  for (std::size_t i = 0; i < kErrors.size(); ++i) {
    if (static_cast<std::size_t>(kErrors[i].code) != i) return false;
  }
  return true;
}
static_assert(table_in_enum_order(), "kErrors must list every S3ErrorCode in enum order");
static_assert(static_cast<std::size_t>(S3ErrorCode::XAmzContentSHA256Mismatch) + 1 ==
                  kErrors.size(),
              "every S3ErrorCode needs a kErrors entry");

void append_element(std::string& out, std::string_view name, std::string_view text) {
  out += '<';
  out += name;
  out += '>';
  out += xml_escape(text);
  out += "</";
  out += name;
  out += '>';
}

}  // namespace

const S3ErrorInfo& s3_error_info(S3ErrorCode code) {
  auto index = static_cast<std::size_t>(code);
  if (index >= kErrors.size())
    return kErrors[static_cast<std::size_t>(S3ErrorCode::InternalError)].info;
  return kErrors[index].info;
}

std::string s3_error_xml(S3ErrorCode code, std::string_view message, std::string_view resource,
                         std::string_view request_id, const S3ErrorDetails& details) {
  const S3ErrorInfo& info = s3_error_info(code);
  std::string out = R"(<?xml version="1.0" encoding="UTF-8"?>)";
  out += "<Error>";
  append_element(out, "Code", info.code);
  append_element(out, "Message", message.empty() ? info.default_message : message);
  if (!details.bucket_name.empty()) append_element(out, "BucketName", details.bucket_name);
  if (!details.key.empty()) append_element(out, "Key", details.key);
  for (const auto& [name, value] : details.extra) append_element(out, name, value);
  if (!resource.empty()) append_element(out, "Resource", resource);
  if (!request_id.empty()) append_element(out, "RequestId", request_id);
  out += "</Error>";
  return out;
}

S3Exception::S3Exception(S3ErrorCode error_code, std::string message, S3ErrorDetails error_details)
    : std::runtime_error(message.empty() ? std::string(s3_error_info(error_code).default_message)
                                         : std::move(message)),
      code(error_code),
      details(std::move(error_details)) {}

S3Exception s3_error_for(const ObjectStoreError& error) {
  switch (error.failure) {
    case StoreFailure::NoSuchBucket: return S3Exception(S3ErrorCode::NoSuchBucket, error.what());
    case StoreFailure::BucketExists: return S3Exception(S3ErrorCode::BucketAlreadyOwnedByYou, error.what());
    case StoreFailure::BucketNotEmpty: return S3Exception(S3ErrorCode::BucketNotEmpty, error.what());
    case StoreFailure::NoSuchKey: return S3Exception(S3ErrorCode::NoSuchKey, error.what());
    case StoreFailure::NoSuchUpload: return S3Exception(S3ErrorCode::NoSuchUpload, error.what());
    case StoreFailure::NoPartsListed: return S3Exception(S3ErrorCode::MalformedXML, error.what());
    case StoreFailure::PartsOutOfOrder: return S3Exception(S3ErrorCode::InvalidPartOrder, error.what());
    case StoreFailure::NoSuchPart: return S3Exception(S3ErrorCode::InvalidPart, error.what());
    case StoreFailure::PartTooSmall: return S3Exception(S3ErrorCode::EntityTooSmall, error.what());
  }
  return S3Exception(S3ErrorCode::InternalError, error.what());
}

}  // namespace stratus::emulator::s3
