#pragma once
// `stratus-trainer deploy`: creates or updates every product function (product_functions()) from
// functions.zip, on the emulator or AWS: CreateFunction for a new one; for an existing one
// UpdateFunctionCode (skipped when the package is unchanged, by CodeSha256) and
// UpdateFunctionConfiguration; after each change it waits until the function is Active and its
// update finished, since AWS refuses the next change (and may fail invokes) until then.

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "stratus/common/lambda_client.hpp"

namespace stratus::trainer {

struct DeployRequest {
  std::filesystem::path zip;       // functions.zip
  std::string role;                // IAM role ARN; required by AWS, defaulted for the emulator
  std::optional<int> memory_mb;    // overrides every function's own memory size
  std::vector<std::string> only;   // function names to deploy; empty: all
  std::chrono::seconds wait{300};  // per function, until Active
  bool aws = false;                // the target is AWS (the role is then required)
};

struct DeployedFunction {
  std::string name;
  std::string action;  // "created", "updated", "configuration updated"
  aws::FunctionState state;
};

// Called before each function is deployed and once it is ready.
using DeployProgress = std::function<void(const std::string& function, const std::string& what)>;

// Throws std::invalid_argument for a missing zip, an unknown function name or a missing role on
// AWS; aws::LambdaError for refusals.
std::vector<DeployedFunction> deploy_functions(aws::LambdaClient& lambda,
                                               const DeployRequest& request,
                                               const DeployProgress& progress = {});

// functions.zip next to this build's trainer (<bin>/../functions/functions.zip), else
// ./functions.zip; the path even when neither exists (the caller reports it).
std::filesystem::path default_functions_zip();

// The base64 SHA-256 of a package, as Lambda reports it in CodeSha256.
std::string code_sha256(std::string_view zip);

}  // namespace stratus::trainer
