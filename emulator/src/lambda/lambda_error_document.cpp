#include "stratus/emulator/lambda/lambda_error_document.hpp"

#include <nlohmann/json.hpp>

namespace stratus::emulator {

std::string lambda_error_document(const std::string& type, const std::string& message) {
  return nlohmann::json{{"errorMessage", message}, {"errorType", type}, {"stackTrace", nlohmann::json::array()}}
      .dump();
}

std::string platform_error_document(const std::string& type, const std::string& request_id,
                                    const std::string& message) {
  return nlohmann::json{{"errorMessage", "RequestId: " + request_id + " Error: " + message}, {"errorType", type}}
      .dump();
}

}  // namespace stratus::emulator
