#pragma once
// A function's configuration as the Lambda API exposes it. Configurations are immutable snapshots
// (shared_ptr<const FunctionConfig>): an update makes a new snapshot with a new revision, and each
// execution environment keeps the snapshot it was started with.

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace stratus::emulator {

// The directory holding a function's code. Bundles unpacked from an uploaded zip belong to the
// emulator and are deleted once superseded and no environment runs from them any more.
class CodeBundle {
 public:
  CodeBundle(std::filesystem::path dir, bool owned, std::string sha256_base64, std::int64_t size)
      : dir_(std::move(dir)), owned_(owned), sha256_(std::move(sha256_base64)), size_(size) {}
  ~CodeBundle();
  CodeBundle(const CodeBundle&) = delete;
  CodeBundle& operator=(const CodeBundle&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  bool owned() const { return owned_; }
  const std::string& sha256() const { return sha256_; }
  std::int64_t size() const { return size_; }
  // Marks the bundle for deletion when its last user lets go.
  void retire() { retired_ = true; }

 private:
  std::filesystem::path dir_;
  bool owned_;
  std::string sha256_;
  std::int64_t size_;
  bool retired_ = false;
};

struct EventInvokeConfig {
  int maximum_retry_attempts = 2;
  int maximum_event_age_s = 21600;
  nlohmann::json destination_config = nlohmann::json::object();
  std::string last_modified;
};

struct FunctionConfig {
  std::string name;
  std::string runtime = "provided.al2023";
  std::string handler;
  std::string role = "arn:aws:iam::000000000000:role/stratus";
  std::string description;
  std::string architecture = "x86_64";
  int memory_mb = 128;
  int timeout_s = 3;
  int ephemeral_storage_mb = 512;  // the size of the environment's /tmp
  std::map<std::string, std::string> environment;
  std::optional<int> reserved_concurrency;
  int provisioned = 0;
  std::optional<EventInvokeConfig> event_invoke_config;
  // PutFunctionRecursionConfig: "Terminate" (default) stops chains past the recursion limit,
  // "Allow" lets them run (the function bounds its own chains).
  std::string recursive_loop = "Terminate";
  std::shared_ptr<CodeBundle> code;
  std::string last_modified;  // Lambda's format: 2026-11-20T23:12:47.000+0000
  std::string revision_id;
  // Changes only when something an environment was started with changes (code, handler, memory,
  // timeout, variables); environments of an older one are retired.
  std::string environment_revision;
  bool from_config_file = false;

  int max_retry_attempts() const {
    return event_invoke_config ? event_invoke_config->maximum_retry_attempts : 2;
  }
  int max_event_age_s() const {
    return event_invoke_config ? event_invoke_config->maximum_event_age_s : 21600;
  }
};

using FunctionConfigPtr = std::shared_ptr<const FunctionConfig>;

std::string function_arn(const std::string& region, const std::string& account,
                         const std::string& name);
std::string lambda_timestamp_now();

// The FunctionConfiguration object of the Lambda API.
nlohmann::json to_function_configuration(const FunctionConfig& f, const std::string& region,
                                         const std::string& account);

}  // namespace stratus::emulator
