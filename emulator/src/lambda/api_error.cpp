#include "stratus/emulator/lambda/api_error.hpp"

#include <nlohmann/json.hpp>

namespace stratus::emulator {

LambdaErrorInfo describe(LambdaError error) {
  switch (error) {
    case LambdaError::ResourceNotFound: return {404, "ResourceNotFoundException"};
    case LambdaError::InvalidParameterValue: return {400, "InvalidParameterValueException"};
    case LambdaError::InvalidRequestContent: return {400, "InvalidRequestContentException"};
    case LambdaError::ResourceConflict: return {409, "ResourceConflictException"};
    case LambdaError::TooManyRequests: return {429, "TooManyRequestsException"};
    case LambdaError::RequestTooLarge: return {413, "RequestTooLargeException"};
    case LambdaError::UnsupportedMediaType: return {415, "UnsupportedMediaTypeException"};
    case LambdaError::CodeStorageExceeded: return {400, "CodeStorageExceededException"};
    case LambdaError::InvalidSignature: return {403, "InvalidSignatureException"};
    case LambdaError::IncompleteSignature: return {403, "IncompleteSignatureException"};
    case LambdaError::MissingAuthenticationToken: return {403, "MissingAuthenticationTokenException"};
    case LambdaError::UnrecognizedClient: return {403, "UnrecognizedClientException"};
    case LambdaError::AccessDenied: return {403, "AccessDeniedException"};
    case LambdaError::UnknownOperation: return {404, "UnknownOperationException"};
    case LambdaError::PreconditionFailed: return {412, "PreconditionFailedException"};
    case LambdaError::RecursiveInvocation: return {400, "RecursiveInvocationException"};
    case LambdaError::Service: return {500, "ServiceException"};
  }
  return {500, "ServiceException"};
}

HttpResponse make_error_response(LambdaError error, const std::string& message,
                                 const std::string& request_id,
                                 const std::optional<std::string>& reason) {
  LambdaErrorInfo info = describe(error);
  nlohmann::json body = {{"Type", info.status >= 500 ? "Service" : "User"}, {"message", message}};
  HttpResponse response;
  response.status = info.status;
  if (reason) {
    body["Reason"] = *reason;
    response.headers.add("Retry-After", "1");
  }
  response.headers.add("Content-Type", "application/json");
  response.headers.add("X-Amzn-ErrorType", info.type);
  response.headers.add("x-amzn-RequestId", request_id);
  response.body = body.dump();
  return response;
}

ApiException refusal_error(const PlacementResult& placed, const std::string& function_name) {
  switch (placed.placement) {
    case Placement::FunctionNotFound:
      return ApiException(LambdaError::ResourceNotFound, "Function not found: " + function_name);
    case Placement::ShuttingDown: return ApiException(LambdaError::Service, "The emulator is shutting down.");
    case Placement::Throttled:
      return ApiException(LambdaError::TooManyRequests, "Rate Exceeded.", throttle_reason(placed.throttle));
    case Placement::Started: break;
  }
  return ApiException(LambdaError::Service, "The invocation was started.");
}

}  // namespace stratus::emulator
