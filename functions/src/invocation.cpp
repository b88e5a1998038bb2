// The value types of the Runtime API and Lambda's error document.

#include <nlohmann/json.hpp>

#include "stratus/runtime/runtime_client.hpp"

namespace stratus::runtime {

std::chrono::milliseconds InvocationRequest::remaining_time() const {
  const auto now = std::chrono::system_clock::now();
  if (deadline <= now) return std::chrono::milliseconds::zero();
  return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
}

InvocationResponse InvocationResponse::success(std::string payload) {
  return InvocationResponse{std::move(payload), false, {}};
}

InvocationResponse InvocationResponse::failure(std::string error_message, std::string error_type) {
  std::string document = error_document(error_type, error_message);
  return InvocationResponse{std::move(document), true, std::move(error_type)};
}

std::string error_document(std::string_view error_type, std::string_view error_message) {
  const nlohmann::json document = {
      {"errorMessage", std::string(error_message)},
      {"errorType", std::string(error_type)},
      {"stackTrace", nlohmann::json::array()},
  };
  // Exception messages can carry arbitrary bytes (file names, echoed input); replacing invalid
  // UTF-8 keeps the error report itself from throwing.
  return document.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace stratus::runtime
