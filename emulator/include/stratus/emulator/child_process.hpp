#pragma once
// A function's worker process as a move-only RAII handle. The child runs in its own process group
// (so a whole tree can be signalled), dies with the daemon (PR_SET_PDEATHSIG), joins its cgroups
// before exec, enters its sandbox (sandbox.hpp), has stdout and stderr joined into one pipe the
// daemon reads, and inherits no other descriptor: everything above 2 is closed at exec.
//
// Reaping is done by the daemon's single SIGCHLD handler (waitpid(-1)); it reports exits through
// mark_exited(). A handle destroyed while its process still runs kills the group and waits, so no
// process outlives its handle.

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "stratus/emulator/sandbox.hpp"

namespace stratus::emulator {

struct SpawnSpec {
  std::filesystem::path executable;
  std::filesystem::path working_dir;
  std::vector<std::string> environment;  // "NAME=value"
  // Files the child writes its pid into before exec (cgroup.procs of its cgroups).
  std::vector<std::filesystem::path> cgroup_procs_files;
  // Fallback memory limit when no cgroup memory controller can be used; 0 = none.
  std::uint64_t rlimit_data_bytes = 0;
  // Wait until the child has exec'd (and report its exec errno as an exception). Without it, spawn
  // returns at once and the exec report is read later from release_exec_report_fd(): joining a
  // cgroup v1 takes the child 10-20 ms in the kernel, which the daemon's thread must not wait out.
  bool wait_for_exec = true;
  // Applied between fork and exec (after joining the cgroups); null = none.
  const SandboxPlan* sandbox = nullptr;
};

class ChildProcess {
 public:
  ChildProcess() = default;
  // Throws std::system_error with the child's exec errno when the program cannot be started.
  static ChildProcess spawn(const SpawnSpec& spec);
  // Takes ownership of a process started elsewhere (a pre-forked one, prefork_pool.hpp), with the
  // same meaning of the two pipes as spawn() without wait_for_exec.
  static ChildProcess adopt(pid_t pid, int output_fd, int exec_report_fd);

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  // The read end of the stdout+stderr pipe; the caller takes ownership.
  int release_output_fd();
  // Without wait_for_exec: a pipe that carries the child's errno (int) if exec failed, and reaches
  // end-of-file once exec succeeded. The caller takes ownership.
  int release_exec_report_fd();

  // Signals the whole process group.
  void signal_group(int signo) const;
  void mark_exited(int wait_status);
  int wait_status() const { return wait_status_; }
  // "exit status 3" / "signal: killed", the wording Lambda uses in Runtime.ExitError.
  std::string describe_exit() const;

 private:
  void kill_and_wait();
  pid_t pid_ = -1;
  int output_fd_ = -1;
  int exec_report_fd_ = -1;
  bool exited_ = false;
  int wait_status_ = 0;
};

}  // namespace stratus::emulator
