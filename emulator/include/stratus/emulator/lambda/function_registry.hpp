#pragma once
// The set of functions the emulator knows: registered from the config file at start-up, or created
// through the management API and persisted under <data-dir>/functions/<name>/ so they survive a
// restart. Writes are atomic (temp file + rename) so a crash never leaves a half-written function.

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "stratus/emulator/config.hpp"
#include "stratus/emulator/lambda/function_config.hpp"

namespace stratus::emulator {

class FunctionRegistry {
 public:
  FunctionRegistry(std::filesystem::path data_dir, std::string region, std::string account);

  // Loads API-created functions persisted by an earlier run; logs and skips unreadable ones.
  void load_persisted();
  // Registers a config-file function (replacing a persisted one of the same name).
  // Throws ConfigError when its code directory has no bootstrap.
  void add_from_spec(const FunctionSpec& spec);

  FunctionConfigPtr find(const std::string& name) const;
  std::vector<FunctionConfigPtr> list() const;  // sorted by name
  std::int64_t total_code_size() const;

  // The operations below throw ApiException for requests Lambda would refuse.
  FunctionConfigPtr create(FunctionConfig draft, std::string_view zip_bytes);
  FunctionConfigPtr update_code(const std::string& name, std::string_view zip_bytes);
  // Stores a changed configuration as a new revision. `affects_environments` is false for
  // changes that running environments need not be restarted for (concurrency, async settings).
  FunctionConfigPtr replace(FunctionConfig updated, bool affects_environments);
  void remove(const std::string& name);

  const std::string& region() const { return region_; }
  const std::string& account() const { return account_; }

 private:
  std::shared_ptr<CodeBundle> install_code(const std::string& name, std::string_view zip_bytes);
  void persist(const FunctionConfig& f);
  std::filesystem::path function_dir(const std::string& name) const;

  std::filesystem::path functions_dir_;
  std::string region_;
  std::string account_;
  std::map<std::string, FunctionConfigPtr> functions_;
};

}  // namespace stratus::emulator
