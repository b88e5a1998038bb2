#include "stratus/emulator/lambda/function_config.hpp"

#include "stratus/common/utc_time.hpp"

#include <chrono>
#include <ctime>

namespace stratus::emulator {

CodeBundle::~CodeBundle() {
  if (owned_ && retired_) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::string function_arn(const std::string& region, const std::string& account,
                         const std::string& name) {
  return "arn:aws:lambda:" + region + ":" + account + ":function:" + name;
}

std::string lambda_timestamp_now() {
  return format_utc_millis(std::chrono::system_clock::now(), "+0000");
}

nlohmann::json to_function_configuration(const FunctionConfig& f, const std::string& region,
                                         const std::string& account) {
  nlohmann::json variables = nlohmann::json::object();
  for (const auto& [k, v] : f.environment) variables[k] = v;
  nlohmann::json out = {
      {"FunctionName", f.name},
      {"FunctionArn", function_arn(region, account, f.name)},
      {"Runtime", f.runtime},
      {"Role", f.role},
      {"Handler", f.handler},
      {"CodeSize", f.code ? f.code->size() : 0},
      {"Description", f.description},
      {"Timeout", f.timeout_s},
      {"MemorySize", f.memory_mb},
      {"LastModified", f.last_modified},
      {"CodeSha256", f.code ? f.code->sha256() : ""},
      {"Version", "$LATEST"},
      {"Environment", {{"Variables", variables}}},
      {"TracingConfig", {{"Mode", "PassThrough"}}},
      {"RevisionId", f.revision_id},
      {"State", "Active"},
      {"LastUpdateStatus", "Successful"},
      {"PackageType", "Zip"},
      {"Architectures", {f.architecture}},
      {"EphemeralStorage", {{"Size", f.ephemeral_storage_mb}}},
  };
  return out;
}

}  // namespace stratus::emulator
