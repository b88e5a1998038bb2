// remove_stale_daemon_cgroups against a fake cgroup tree: plain directories stand in for groups
// (an empty directory is removable like a memberless group; one holding a file is not, like a
// group with members).

#include "stratus/emulator/stale_cgroups.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace fs = std::filesystem;
using stratus::emulator::remove_stale_daemon_cgroups;

namespace {

// A pid that named a process a moment ago and names none now.
pid_t dead_pid() {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return pid;
}

fs::path group(const fs::path& base, pid_t pid) { return base / ("stratus-" + std::to_string(pid)); }

}  // namespace

TEST(StaleCgroups, RemovesOnlyEmptyGroupsOfDeadDaemons) {
  const fs::path base = fs::temp_directory_path() / ("stale-cgroups-" + std::to_string(::getpid()));
  fs::remove_all(base);
  const pid_t dead = dead_pid();
  const pid_t dead_with_members = dead_pid();
  fs::create_directories(group(base, dead) / "env-aaaa");
  fs::create_directories(group(base, dead) / "env-bbbb");
  fs::create_directories(group(base, dead_with_members) / "env-cccc");
  std::ofstream(group(base, dead_with_members) / "env-cccc" / "member") << "1234";
  fs::create_directories(group(base, ::getpid()) / "env-dddd");  // ours
  fs::create_directories(group(base, 1) / "env-eeee");           // a live process's (init)
  fs::create_directories(base / "stratus-x12");                   // not a daemon's name
  fs::create_directories(base / "someone-else");

  EXPECT_EQ(remove_stale_daemon_cgroups(base), 3u);  // dead's two environments and dead itself
  EXPECT_FALSE(fs::exists(group(base, dead)));
  EXPECT_TRUE(fs::exists(group(base, dead_with_members) / "env-cccc" / "member"));
  EXPECT_TRUE(fs::exists(group(base, ::getpid()) / "env-dddd"));
  EXPECT_TRUE(fs::exists(group(base, 1) / "env-eeee"));
  EXPECT_TRUE(fs::exists(base / "stratus-x12"));
  EXPECT_TRUE(fs::exists(base / "someone-else"));
  EXPECT_EQ(remove_stale_daemon_cgroups(base), 0u);  // nothing more to do
  EXPECT_EQ(remove_stale_daemon_cgroups(base / "missing"), 0u);
  fs::remove_all(base);
}
