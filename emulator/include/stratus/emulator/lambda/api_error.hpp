#pragma once
// Every error the Lambda API answers with is built here, in the shape AWS uses: the type in the
// `X-Amzn-ErrorType` header and a JSON body `{"Type": "User"|"Service", "message": ...}`.

#include <optional>
#include <string>

#include "stratus/common/http_message.hpp"
#include "stratus/emulator/lambda/placement.hpp"

namespace stratus::emulator {

enum class LambdaError {
  ResourceNotFound,        // 404
  InvalidParameterValue,   // 400
  InvalidRequestContent,   // 400
  ResourceConflict,        // 409
  TooManyRequests,         // 429 (with Reason and Retry-After)
  RequestTooLarge,         // 413
  UnsupportedMediaType,    // 415
  CodeStorageExceeded,     // 400
  InvalidSignature,        // 403
  IncompleteSignature,     // 403
  MissingAuthenticationToken,  // 403
  UnrecognizedClient,      // 403
  AccessDenied,            // 403
  UnknownOperation,        // 404 (no such route)
  PreconditionFailed,      // 412 (RevisionId mismatch)
  RecursiveInvocation,     // 400 (a chain of invocations past the recursion limit)
  Service,                 // 500
};

struct LambdaErrorInfo {
  int status;
  const char* type;  // the AWS exception name
};
LambdaErrorInfo describe(LambdaError error);

// Builds the full HTTP response for an error. `reason` fills the `Reason` member that
// TooManyRequestsException carries (e.g. "ReservedFunctionConcurrentInvocationLimitExceeded").
HttpResponse make_error_response(LambdaError error, const std::string& message,
                                 const std::string& request_id,
                                 const std::optional<std::string>& reason = std::nullopt);

}  // namespace stratus::emulator

namespace stratus::emulator {

// Thrown by API operations for a request that must be refused; the front turns it into
// make_error_response() in one place.
class ApiException : public std::exception {
 public:
  ApiException(LambdaError error, std::string message, std::optional<std::string> reason = {})
      : error_(error), message_(std::move(message)), reason_(std::move(reason)) {}
  LambdaError error() const { return error_; }
  const std::string& message() const { return message_; }
  const std::optional<std::string>& reason() const { return reason_; }
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  LambdaError error_;
  std::string message_;
  std::optional<std::string> reason_;
};

}  // namespace stratus::emulator

namespace stratus::emulator {

// The API's answer to an invocation the scheduler did not start (placement.hpp):
// ResourceNotFound, Service (shutting down) or TooManyRequests with its Reason.
ApiException refusal_error(const PlacementResult& placed, const std::string& function_name);

}  // namespace stratus::emulator
