// CreateFunctionUrlConfig, GetFunctionUrlConfig, UpdateFunctionUrlConfig,
// DeleteFunctionUrlConfig, ListFunctionUrlConfigs (2021-10-31) over the FunctionUrls registry.

#include <nlohmann/json.hpp>

#include "stratus/emulator/lambda/api_error.hpp"
#include "stratus/emulator/lambda/api_messages.hpp"
#include "stratus/emulator/lambda/function_urls.hpp"
#include "stratus/emulator/lambda/lambda_api.hpp"

namespace stratus::emulator {

using nlohmann::json;

HttpResponse LambdaApi::manage_function_url(const Route& route, const FunctionConfig& function,
                                            HttpRequest& request, const std::string& request_id) {
  const std::string arn = function_arn(config_.region, config_.account_id, function.name);
  const std::string host =
      request.headers.get("Host", config_.address + ":" + std::to_string(config_.port));
  auto not_found = [&]() -> HttpResponse {
    throw ApiException(LambdaError::ResourceNotFound, "The resource you requested does not exist.");
  };
  try {
    switch (route.operation) {
      case Operation::CreateFunctionUrlConfig: {
        auto created = function_urls_.create(function.name, parse_json_body(request));
        if (!created) {
          throw ApiException(
              LambdaError::ResourceConflict,
              "Failed to create function url config for [functionArn = " + arn +
                  "]. Error message:  FunctionUrlConfig exists for this Lambda function");
        }
        json body = function_url_json(*created, arn, host);
        body.erase("LastModifiedTime");  // CreateFunctionUrlConfig's answer has no such member
        return json_response(201, body, request_id);
      }
      case Operation::GetFunctionUrlConfig: {
        auto found = function_urls_.get(function.name);
        if (!found) return not_found();
        return json_response(200, function_url_json(*found, arn, host), request_id);
      }
      case Operation::UpdateFunctionUrlConfig: {
        auto updated = function_urls_.update(function.name, parse_json_body(request));
        if (!updated) return not_found();
        return json_response(200, function_url_json(*updated, arn, host), request_id);
      }
      case Operation::DeleteFunctionUrlConfig: {
        if (!function_urls_.remove(function.name)) return not_found();
        return empty_response(204, request_id);
      }
      case Operation::ListFunctionUrlConfigs: {
        json configs = json::array();
        if (auto found = function_urls_.get(function.name))
          configs.push_back(function_url_json(*found, arn, host));
        return json_response(200, {{"FunctionUrlConfigs", configs}}, request_id);
      }
      default:
        break;
    }
  } catch (const FunctionUrlRequestError& e) {
    throw ApiException(LambdaError::InvalidParameterValue, e.what());
  }
  throw ApiException(LambdaError::UnknownOperation, "not a function URL operation");
}

}  // namespace stratus::emulator
