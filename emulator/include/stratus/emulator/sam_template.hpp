#pragma once
// Reads the functions of an AWS SAM / CloudFormation template (`stratus-emulator --template
// template.yaml`): every AWS::Serverless::Function (with Globals.Function merged in as SAM does:
// the resource's scalars win, maps merge key by key, lists are the globals' entries then the
// resource's) and AWS::Lambda::Function. Each becomes the same function entry a config file's
// "functions" list holds and goes through the same validation (apply_config_json); what the
// emulator cannot serve (an intrinsic it cannot resolve, a runtime other than the custom ones, an
// S3 or inline code location, container images, layers, bad values) is a TemplateError naming the
// resource and the property.
//
// Served properties: CodeUri (Code for AWS::Lambda::Function; a local directory, or a zip that is
// unpacked under `code_dir`), Handler, Runtime, MemorySize, Timeout, Environment.Variables,
// ReservedConcurrentExecutions, ProvisionedConcurrencyConfig.ProvisionedConcurrentExecutions,
// EphemeralStorage.Size, Architectures, Description, RecursiveLoop, FunctionName (else the logical id).
// Properties that change nothing locally (Events, Policies, Role, Tags, Tracing, ...) are listed in
// `notes` and ignored. Intrinsics: Ref and Sub ("${Name}") of template parameters that have a
// Default and of AWS::Region, AWS::AccountId, AWS::Partition, AWS::StackName; nothing else.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "stratus/emulator/config.hpp"

namespace stratus::emulator {

class TemplateError : public ConfigError {
 public:
  using ConfigError::ConfigError;
};

struct TemplateOptions {
  std::filesystem::path code_dir;  // zips named by CodeUri are unpacked under it, one dir per function
  std::string region = "us-east-1";
  std::string account_id = "000000000000";
  std::string stack_name = "stratus";
};

struct TemplateFunctions {
  std::vector<FunctionSpec> functions;
  std::vector<std::string> notes;  // what was ignored, for the log
};

// Templates larger than CloudFormation's own limit for a template (1 MB) are refused.
inline constexpr std::size_t kMaxTemplateBytes = 1024 * 1024;

// `base_dir`: where relative CodeUri paths start (the template's directory).
TemplateFunctions functions_from_template(std::string_view yaml_text, const std::filesystem::path& base_dir,
                                          const TemplateOptions& options);
TemplateFunctions load_template_file(const std::filesystem::path& file, const TemplateOptions& options);

}  // namespace stratus::emulator
