#pragma once
// The set of functions the emulator knows: registered from the config file at start-up, or created
// through the management API and persisted under <data-dir>/functions/<name>/ so they survive a
// restart. Writes are atomic (temp file + rename) so a crash never leaves a half-written function.

#include <filesystem>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "stratus/emulator/config.hpp"
#include "stratus/emulator/lambda/function_config.hpp"

namespace stratus::emulator {

// Why the registry refused a change; the API maps it to Lambda's error (lambda_api.cpp).
enum class RegistryFailure {
  AlreadyExists,  // create() of a name that is taken
  UnusableCode,   // the zip could not be extracted (what() says why)
};

class FunctionRegistryError : public std::runtime_error {
 public:
  FunctionRegistryError(RegistryFailure failure, const std::string& what)
      : std::runtime_error(what), failure(failure) {}
  RegistryFailure failure;
};

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

  // A function's code, extracted from its zip into a fresh directory but not yet in use.
  struct ExtractedCode {
    std::shared_ptr<CodeBundle> bundle;
    bool made_function_dir = false;  // the function's directory did not exist before
  };
  // Extracts a zip for function `name`. Touches only the file system and the registry's immutable
  // paths, so it runs on any thread (off the io thread: it is the slow part of a code upload).
  // Throws FunctionRegistryError(UnusableCode).
  ExtractedCode extract_code(const std::string& name, std::string_view zip_bytes) const;
  // create and update_code throw FunctionRegistryError for a change Lambda would refuse; the code
  // is then discarded. update_code's function must exist.
  FunctionConfigPtr create(FunctionConfig draft, ExtractedCode code);
  FunctionConfigPtr update_code(const std::string& name, ExtractedCode code);
  // Stores a changed configuration as a new revision. `affects_environments` is false for
  // changes that running environments need not be restarted for (concurrency, async settings).
  FunctionConfigPtr replace(FunctionConfig updated, bool affects_environments);
  void remove(const std::string& name);

  const std::string& region() const { return region_; }
  const std::string& account() const { return account_; }

 private:
  void persist(const FunctionConfig& f);
  std::filesystem::path function_dir(const std::string& name) const;

  std::filesystem::path functions_dir_;
  std::string region_;
  std::string account_;
  std::map<std::string, FunctionConfigPtr> functions_;
};

}  // namespace stratus::emulator
