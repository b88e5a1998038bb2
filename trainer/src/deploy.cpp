#include "stratus/trainer/deploy.hpp"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "stratus/common/base64.hpp"
#include "stratus/common/checksum.hpp"
#include "stratus/functions/product_functions.hpp"

namespace stratus::trainer {

namespace {

// The emulator takes any role; AWS needs a real one (there is no sensible default).
constexpr const char* kEmulatorRole = "arn:aws:iam::000000000000:role/stratus-functions";

std::string read_zip(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw std::invalid_argument(
        "cannot read the functions package '" + file.string() +
        "' (build it with `cmake --build --preset release`, or pass --zip)");
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  std::string zip = std::move(bytes).str();
  if (zip.size() < 4 || zip.compare(0, 4, "PK\x03\x04") != 0) {
    throw std::invalid_argument("'" + file.string() + "' is not a zip file");
  }
  return zip;
}

aws::FunctionDefinition definition_of(const functions::FunctionSpec& spec,
                                      const DeployRequest& request) {
  aws::FunctionDefinition d;
  d.name = spec.name;
  d.handler = spec.handler;
  d.memory_mb = request.memory_mb.value_or(spec.memory_mb);
  d.timeout_s = spec.timeout_s;
  d.description = spec.description;
  d.role = request.role.empty() ? std::string(kEmulatorRole) : request.role;
  return d;
}

bool configuration_differs(const aws::FunctionState& s, const aws::FunctionDefinition& d) {
  return s.handler != d.handler || s.runtime != d.runtime || s.memory_mb != d.memory_mb ||
         s.timeout_s != d.timeout_s;
}

}  // namespace

std::string code_sha256(std::string_view zip) {
  Checksum sha(ChecksumAlgorithm::sha256);
  sha.update(zip);
  return base64_encode(sha.digest());
}

std::filesystem::path default_functions_zip() {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) {
    const std::filesystem::path beside =
        self.parent_path().parent_path() / "functions" / "functions.zip";
    if (std::filesystem::exists(beside, error)) return beside;
  }
  return "functions.zip";
}

std::vector<DeployedFunction> deploy_functions(aws::LambdaClient& lambda,
                                               const DeployRequest& request,
                                               const DeployProgress& progress) {
  if (request.aws && request.role.empty()) {
    throw std::invalid_argument(
        "--role ARN is required on AWS: the IAM role the functions run as (it needs "
        "S3 access to the run bucket and lambda:InvokeFunction on the functions)");
  }
  if (request.memory_mb && (*request.memory_mb < 128 || *request.memory_mb > 10240)) {
    throw std::invalid_argument("--memory must be 128..10240 MB");
  }
  std::vector<const functions::FunctionSpec*> chosen;
  if (request.only.empty()) {
    for (const auto& spec : functions::product_functions()) chosen.push_back(&spec);
  } else {
    for (const std::string& name : request.only) {
      const functions::FunctionSpec* spec = functions::find_product_function(name);
      if (!spec) throw std::invalid_argument("'" + name + "' is not a product function");
      chosen.push_back(spec);
    }
  }
  const std::string zip = read_zip(request.zip);
  const std::string sha = code_sha256(zip);
  const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(request.wait);
  auto say = [&](const std::string& name, const std::string& what) {
    if (progress) progress(name, what);
  };

  std::vector<DeployedFunction> deployed;
  for (const functions::FunctionSpec* spec : chosen) {
    const aws::FunctionDefinition definition = definition_of(*spec, request);
    DeployedFunction result{spec->name, "", {}};
    std::optional<aws::FunctionState> existing = lambda.get_function_configuration(spec->name);
    if (!existing) {
      say(spec->name, "creating");
      lambda.create_function(definition, zip);
      result.action = "created";
    } else {
      // A function mid-update refuses changes: let a previous deploy finish first.
      aws::FunctionState state = lambda.wait_until_ready(spec->name, wait);
      bool changed = false;
      if (state.code_sha256 != sha) {
        say(spec->name, "updating code");
        lambda.update_function_code(spec->name, zip);
        state = lambda.wait_until_ready(spec->name, wait);
        changed = true;
      }
      if (configuration_differs(state, definition) || changed) {
        say(spec->name, "updating configuration");
        lambda.update_function_configuration(definition);
        result.action = changed ? "updated" : "configuration updated";
      } else {
        result.action = "unchanged";
      }
    }
    result.state = lambda.wait_until_ready(spec->name, wait);
    if (spec->recursive_by_design) {
      // Self re-invocation is how its runs last past the timeout; the run bounds its own chains.
      lambda.put_function_recursion_config(spec->name, "Allow");
    }
    say(spec->name, result.action);
    deployed.push_back(std::move(result));
  }
  return deployed;
}

}  // namespace stratus::trainer
