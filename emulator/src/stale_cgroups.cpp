#include "stratus/emulator/stale_cgroups.hpp"

#include <signal.h>
#include <sys/types.h>

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <string>
#include <system_error>

namespace stratus::emulator {
namespace fs = std::filesystem;

namespace {

// The pid of a "stratus-<pid>" directory name, or 0 when the name is not one.
pid_t daemon_pid_of(const std::string& name) {
  constexpr std::string_view prefix = "stratus-";
  if (!name.starts_with(prefix)) return 0;
  pid_t pid = 0;
  const char* first = name.data() + prefix.size();
  const char* last = name.data() + name.size();
  auto [ptr, ec] = std::from_chars(first, last, pid);
  return ec == std::errc() && ptr == last && pid > 0 ? pid : 0;
}

bool process_exists(pid_t pid) {
  // EPERM: it exists but belongs to someone else; only ESRCH means it is gone.
  return ::kill(pid, 0) == 0 || errno != ESRCH;
}

// rmdir, which for a cgroup succeeds only when it has no members and no child groups.
bool remove_group(const fs::path& dir) {
  std::error_code ec;
  return fs::remove(dir, ec) && !ec;
}

}  // namespace

std::size_t remove_stale_daemon_cgroups(const fs::path& base) {
  std::size_t removed = 0;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(base, ec)) {
    const pid_t pid = daemon_pid_of(entry.path().filename().string());
    if (pid == 0 || pid == ::getpid() || process_exists(pid)) continue;
    std::error_code child_ec;
    for (const fs::directory_entry& child : fs::directory_iterator(entry.path(), child_ec)) {
      // Children are directories (groups); the control files cannot be removed and are skipped.
      if (child.is_directory(child_ec) && remove_group(child.path())) ++removed;
    }
    if (remove_group(entry.path())) ++removed;
  }
  return removed;
}

}  // namespace stratus::emulator
