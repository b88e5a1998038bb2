#pragma once
// The emulator's configuration: built-in defaults, overridden by a JSON config file, overridden by
// command-line flags. Every field is validated once, here, with a message naming the field.

#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "stratus/common/emulator_credentials.hpp"
#include "stratus/emulator/faults/fault_plan.hpp"
#include "stratus/emulator/resource_limits.hpp"
#include "stratus/emulator/sandbox.hpp"

namespace stratus::emulator {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct PriceTable {
  double request_per_million = 0.20;
  double gb_second_x86_64 = 0.0000166667;
  double gb_second_arm64 = 0.0000133334;
  double s3_put_per_1000 = 0.005;
  double s3_get_per_1000 = 0.0004;
};

// A function registered from the config file (functions created through the API persist instead).
struct FunctionSpec {
  std::string name;
  std::filesystem::path code_dir;  // absolute; holds an executable `bootstrap`
  std::string handler;
  int memory_mb = 128;
  int timeout_s = 3;
  int ephemeral_storage_mb = 512;
  std::optional<int> reserved_concurrency;
  int provisioned = 0;
  std::map<std::string, std::string> environment;
  std::string runtime = "provided.al2023";
  std::string architecture = "x86_64";
  std::string description;
  std::string recursive_loop = "Terminate";  // or "Allow" (PutFunctionRecursionConfig)
};

// Credentials the emulator hands to the functions it starts (so SDK clients inside them can sign
// requests back to it); always accepted when SigV4 checking is on.
inline constexpr const char* kFunctionAccessKeyId = kEmulatorFunctionAccessKeyId;
inline constexpr const char* kFunctionSecretAccessKey = kEmulatorFunctionSecretAccessKey;
// Each environment gets its own key id, this prefix + its id, so the S3 requests it makes are
// attributed to it (s3_attribution.hpp); all share the functions' secret.
inline constexpr std::string_view kEnvironmentAccessKeyPrefix = "STRATUSENV";

struct SigV4Settings {
  bool enabled = false;
  std::map<std::string, std::string> secrets;  // access key id -> secret access key

  // The secret of an accepted access key (the listed ones and the functions' own), or nullopt.
  std::optional<std::string> secret_for(const std::string& access_key_id) const {
    if (access_key_id == kFunctionAccessKeyId || access_key_id.starts_with(kEnvironmentAccessKeyPrefix))
      return std::string(kFunctionSecretAccessKey);
    auto it = secrets.find(access_key_id);
    if (it == secrets.end()) return std::nullopt;
    return it->second;
  }
};

struct S3Settings {
  // Flush each object to disk before publishing it (rename). Off trades crash durability (power
  // loss; a killed daemon loses nothing either way) for speed on slow disks.
  bool fsync = true;
};

// How long S3 requests take on AWS, for the modeled time (time_model.hpp). Defaults: AWS's
// "Best Practices Design Patterns: Optimizing Amazon S3 Performance" (small-object and
// first-byte latencies of roughly 100-200 ms; about 85-90 MB/s per connection); the lower
// latency and the lower throughput of each range.
struct S3TransferProfile {
  double first_byte_ms = 100;
  double mb_per_s = 85;
};
struct S3Profile {
  S3TransferProfile read;   // GET, HEAD, DELETE and the other read-priced requests
  S3TransferProfile write;  // PUT, COPY, POST, LIST
};

// "aws": every invocation also gets modeled AWS time and cost; "off": measured figures only.
enum class TimeModelMode { Aws, Off };

struct EmulatorConfig {
  std::string address = "127.0.0.1";
  int port = 9001;
  std::filesystem::path data_dir = "stratus-data";
  std::string region = "us-east-1";
  std::string account_id = "000000000000";
  int account_concurrency = 1000;
  double idle_keepalive_s = 300;
  int housekeeping_interval_ms = 200;
  int scale_up_environments = 1000;  // new environments per function per window
  double scale_up_window_s = 10;
  double async_retry_delay_scale = 1.0;
  // The durable async queue (event_journal.hpp); false keeps accepted events in memory only.
  bool async_journal = true;
  double shutdown_grace_s = 10;
  double init_timeout_s = 10;
  // Processes forked ahead of need and already placed in fresh cgroups (prefork_pool.hpp), so a
  // cold start skips the cgroup migration; 0 turns the pool off.
  int prefork_pool_size = 2;
  PriceTable prices;
  SigV4Settings sigv4;
  S3Settings s3;
  SandboxSettings sandbox;
  // Which cgroup hierarchy limits environments ("cgroup_mode"; resource_limits.hpp).
  CgroupMode cgroup_mode = CgroupMode::Auto;
  TimeModelMode time_model = TimeModelMode::Aws;
  S3Profile s3_profile;
  std::vector<FunctionSpec> functions;
  // Faults to inject from the start (the "faults" object; the admin API replaces it at run time).
  FaultPlan faults;
  // Recursive loop detection: a chain of invocations through the trace header longer than this
  // is stopped for functions whose recursion config is Terminate (Lambda stops after ~16).
  int recursion_limit = 16;
};

// Applies the JSON document on top of `config`. Relative paths resolve against `base_dir`.
// Throws ConfigError naming the offending field.
void apply_config_json(EmulatorConfig& config, const nlohmann::json& doc,
                       const std::filesystem::path& base_dir);
EmulatorConfig load_config_file(const std::filesystem::path& file);
// The file's settings on top of `config` (e.g. on top of the default data directory).
void apply_config_file(EmulatorConfig& config, const std::filesystem::path& file);

// Lambda's limits, shared by the config file and the management API.
inline constexpr int kMinMemoryMb = 128;
inline constexpr int kMaxMemoryMb = 10240;
inline constexpr int kMaxTimeoutS = 900;
inline constexpr int kMinEphemeralStorageMb = 512;
inline constexpr int kMaxEphemeralStorageMb = 10240;
inline constexpr int kMinUnreservedConcurrency = 100;
bool is_valid_function_name(std::string_view name);

}  // namespace stratus::emulator
