#include "stratus/emulator/default_paths.hpp"

#include <cstdlib>
#include <system_error>

namespace stratus::emulator {

namespace fs = std::filesystem;

fs::path default_data_dir(const char* xdg_state_home, const char* home) {
  // The XDG spec says a relative XDG_STATE_HOME is invalid and must be ignored.
  if (xdg_state_home && *xdg_state_home && fs::path(xdg_state_home).is_absolute()) {
    return fs::path(xdg_state_home) / "stratus";
  }
  if (home && *home) return fs::path(home) / ".local" / "state" / "stratus";
  return fs::path("stratus-data");
}

fs::path default_data_dir() { return default_data_dir(std::getenv("XDG_STATE_HOME"), std::getenv("HOME")); }

fs::path default_config_path(const fs::path& executable) {
  return (executable.parent_path().parent_path() / "share" / "stratus" / "emulator.json").lexically_normal();
}

std::optional<fs::path> find_default_config(const fs::path& executable) {
  fs::path candidate = default_config_path(executable);
  std::error_code ec;
  if (fs::is_regular_file(candidate, ec)) return candidate;
  return std::nullopt;
}

fs::path own_executable(const char* argv0) {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec && self.is_absolute()) return self;
  return fs::absolute(argv0 ? fs::path(argv0) : fs::path("stratus-emulator"), ec);
}

}  // namespace stratus::emulator
