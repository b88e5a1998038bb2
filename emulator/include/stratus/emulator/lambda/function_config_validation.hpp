#pragma once
// The checks Lambda applies to a function's settings, whatever brought them: a CreateFunction or
// UpdateFunctionConfiguration request, or the emulator's config file. Each reader parses its own
// format (and range-checks numbers as it reads them); what is left is checked here, once.

#include <map>
#include <optional>
#include <string>

namespace stratus::emulator {

// Keys Lambda reserves for itself; a function may not set them.
bool is_reserved_environment_key(const std::string& key);

struct FunctionSettingsProblem {
  std::string field;    // the API's member name: "Handler", "Description", "Environment"
  std::string message;  // Lambda's wording
};

// Handler at most 128 characters, Description at most 256, environment variable names
// [A-Za-z][A-Za-z0-9_]*, none of Lambda's reserved keys, names and values 4 KB in all.
std::optional<FunctionSettingsProblem> check_function_settings(const std::string& handler,
                                                               const std::string& description,
                                                               const std::map<std::string, std::string>& environment);

}  // namespace stratus::emulator
