#include "stratus/emulator/lambda/function_config_validation.hpp"

#include <cctype>
#include <set>

namespace stratus::emulator {

bool is_reserved_environment_key(const std::string& key) {
  static const std::set<std::string, std::less<>> keys = {
      "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
      "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
      "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
      "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
      "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR"};
  return keys.count(key) > 0;
}

std::optional<FunctionSettingsProblem> check_function_settings(const std::string& handler,
                                                               const std::string& description,
                                                               const std::map<std::string, std::string>& environment) {
  std::size_t total = 0;
  for (const auto& [key, value] : environment) {
    bool valid_key = !key.empty() && std::isalpha(static_cast<unsigned char>(key[0]));
    for (char c : key) valid_key = valid_key && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
    if (!valid_key) return FunctionSettingsProblem{"Environment", "Environment variable name '" + key + "' is not valid"};
    if (is_reserved_environment_key(key)) {
      return FunctionSettingsProblem{
          "Environment",
          "Lambda was unable to configure your environment variables because the environment variables you have "
          "provided contains reserved keys that are currently not supported for modification. Reserved keys used "
          "in this request: " + key};
    }
    total += key.size() + value.size();
  }
  if (total > 4096) {
    return FunctionSettingsProblem{"Environment",
                                   "Lambda was unable to configure your environment variables because the "
                                   "environment variables you have provided exceeded the 4KB limit."};
  }
  if (handler.size() > 128) return FunctionSettingsProblem{"Handler", "Handler must be at most 128 characters"};
  if (description.size() > 256) {
    return FunctionSettingsProblem{"Description", "Description must be at most 256 characters"};
  }
  return std::nullopt;
}

}  // namespace stratus::emulator
