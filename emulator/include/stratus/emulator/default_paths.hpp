#pragma once
// Where a bare `stratus-emulator` (no flags) looks for its functions and keeps its data.
//
// Data: $XDG_STATE_HOME/stratus, else $HOME/.local/state/stratus. The data directory holds state
// (the async event journal, stored objects, function code deployed through the API, logs) that
// must survive a restart but is neither configuration nor a cache: that is what the XDG Base
// Directory specification's state directory is for. Without HOME: ./stratus-data.
//
// Functions: the default config `<prefix>/share/stratus/emulator.json`, where <prefix> is the
// directory above the one holding the binary. The build writes it into the build tree
// (build/<preset>/share/stratus/emulator.json, listing the product functions with their code in
// build/<preset>/functions/stratus), and an installed layout (e.g. the Docker image's /opt/stratus)
// keeps the same shape.

#include <filesystem>
#include <optional>
#include <string>

namespace stratus::emulator {

// `xdg_state_home` and `home` are the environment's values (nullptr or empty when unset).
std::filesystem::path default_data_dir(const char* xdg_state_home, const char* home);
std::filesystem::path default_data_dir();  // from the process environment

// The default config for the binary at `executable`, when that file exists.
std::filesystem::path default_config_path(const std::filesystem::path& executable);
std::optional<std::filesystem::path> find_default_config(const std::filesystem::path& executable);
// This process's binary (/proc/self/exe), or `argv0` when that cannot be read.
std::filesystem::path own_executable(const char* argv0);

}  // namespace stratus::emulator
