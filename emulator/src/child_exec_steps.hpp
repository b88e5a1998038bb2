#pragma once
// Steps a freshly forked child takes before exec, shared by ChildProcess::spawn and the pre-fork
// pool. Only async-signal-safe calls: the daemon has other threads, so nothing may allocate.

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>

namespace stratus::emulator::child_steps {

// Reports errno on the exec report pipe and exits.
[[noreturn]] inline void fail(int report_fd) {
  int err = errno;
  (void)!::write(report_fd, &err, sizeof err);
  ::_exit(127);
}

// Joins a cgroup: writes our pid into its cgroup.procs.
inline void write_pid_to(const char* file, int report_fd) {
  int fd = ::open(file, O_WRONLY | O_CLOEXEC);
  if (fd < 0) fail(report_fd);
  char buf[32];
  int len = 0;
  pid_t pid = ::getpid();
  char digits[16];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + pid % 10);
    pid /= 10;
  } while (pid > 0);
  while (n > 0) buf[len++] = digits[--n];
  buf[len++] = '\n';
  if (::write(fd, buf, static_cast<std::size_t>(len)) != len) fail(report_fd);
  ::close(fd);
}

// Marks every descriptor above stderr close-on-exec: the child must not inherit the daemon's
// listening sockets, client connections, runtime API sockets or whatever the daemon itself
// inherited. CLOEXEC rather than close, so the exec report pipe still reports a failed exec.
inline void close_other_descriptors_at_exec(int max_fd) {
  constexpr unsigned kCloseRangeCloexec = 1u << 2;  // CLOSE_RANGE_CLOEXEC, Linux 5.11
  if (::syscall(SYS_close_range, 3u, ~0u, kCloseRangeCloexec) == 0) return;
  for (int fd = 3; fd < max_fd; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
}

}  // namespace stratus::emulator::child_steps
