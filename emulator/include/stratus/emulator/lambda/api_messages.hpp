#pragma once
// The Lambda API's JSON request bodies and its success responses: every response carries the
// x-amzn-RequestId that its log line names (errors are built by make_error_response, api_error.hpp).

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "stratus/common/http_message.hpp"

namespace stratus::emulator {

// A management request's JSON object body ({} when empty). Throws ApiException
// (InvalidRequestContent) when it is not a JSON object.
nlohmann::json parse_json_body(std::string_view body);
inline nlohmann::json parse_json_body(const HttpRequest& request) { return parse_json_body(request.body); }

HttpResponse json_response(int status, const nlohmann::json& body, const std::string& request_id);
HttpResponse empty_response(int status, const std::string& request_id);

}  // namespace stratus::emulator
