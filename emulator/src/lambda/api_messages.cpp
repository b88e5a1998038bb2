#include "stratus/emulator/lambda/api_messages.hpp"

#include "stratus/emulator/lambda/api_error.hpp"

namespace stratus::emulator {

nlohmann::json parse_json_body(std::string_view request_body) {
  if (request_body.empty()) return nlohmann::json::object();
  nlohmann::json body = nlohmann::json::parse(request_body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    throw ApiException(LambdaError::InvalidRequestContent, "Could not parse request body into json");
  }
  return body;
}

HttpResponse json_response(int status, const nlohmann::json& body, const std::string& request_id) {
  HttpResponse response;
  response.status = status;
  response.headers.add("Content-Type", "application/json");
  response.headers.add("x-amzn-RequestId", request_id);
  response.body = body.dump();
  return response;
}

HttpResponse empty_response(int status, const std::string& request_id) {
  HttpResponse response;
  response.status = status;
  response.headers.add("x-amzn-RequestId", request_id);
  return response;
}

}  // namespace stratus::emulator
