#include "stratus/emulator/child_process.hpp"

#include "child_exec_steps.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

namespace stratus::emulator {

namespace {
using child_steps::close_other_descriptors_at_exec;
using child_steps::write_pid_to;
[[noreturn]] void child_fail(int report_fd) { child_steps::fail(report_fd); }
}  // namespace

ChildProcess ChildProcess::spawn(const SpawnSpec& spec) {
  // Everything the child needs is prepared before fork: no allocation after it.
  std::vector<char*> envp;
  for (const auto& e : spec.environment) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  std::string exe = spec.executable.string();
  std::string cwd = spec.working_dir.string();
  std::vector<std::string> procs;
  for (const auto& p : spec.cgroup_procs_files) procs.push_back(p.string());
  char* argv[] = {exe.data(), nullptr};
  const long open_max = ::sysconf(_SC_OPEN_MAX);
  const int max_fd = open_max > 0 && open_max < (1 << 20) ? static_cast<int>(open_max) : (1 << 20);

  int output[2];
  if (::pipe2(output, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    int err = errno;
    ::close(output[0]);
    ::close(output[1]);
    throw std::system_error(err, std::generic_category(), "pipe");
  }
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    for (int fd : {output[0], output[1], report[0], report[1]}) ::close(fd);
    throw std::system_error(err, std::generic_category(), "fork");
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the daemon died between fork and prctl
    // The daemon ignores SIGPIPE; an ignored disposition would survive exec.
    ::signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (const auto& file : procs) write_pid_to(file.c_str(), report[1]);
    if (spec.rlimit_data_bytes > 0) {
      rlimit limit{spec.rlimit_data_bytes, spec.rlimit_data_bytes};
      if (::setrlimit(RLIMIT_DATA, &limit) != 0) child_fail(report[1]);
    }
    if (spec.sandbox) {
      if (int err = apply_sandbox_in_child(*spec.sandbox)) {
        errno = err;
        child_fail(report[1]);
      }
      // Changing credentials cleared the parent-death signal.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
    }
    if (::chdir(cwd.c_str()) != 0) child_fail(report[1]);
    int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0 || ::dup2(devnull, 0) < 0) child_fail(report[1]);
    if (::dup2(output[1], 1) < 0 || ::dup2(output[1], 2) < 0) child_fail(report[1]);
    close_other_descriptors_at_exec(max_fd);
    ::execve(exe.c_str(), argv, envp.data());
    child_fail(report[1]);
  }
  ::close(output[1]);
  ::close(report[1]);
  if (!spec.wait_for_exec) {
    ChildProcess child;
    child.pid_ = pid;
    child.output_fd_ = output[0];
    child.exec_report_fd_ = report[0];
    return child;
  }
  // The report pipe closes on a successful exec (CLOEXEC) or carries the child's errno.
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(report[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  ChildProcess child;
  child.pid_ = pid;
  child.output_fd_ = output[0];
  if (n > 0) {
    ::close(output[0]);
    child.output_fd_ = -1;
    int status = 0;
    ::waitpid(pid, &status, 0);
    child.exited_ = true;
    child.wait_status_ = status;
    throw std::system_error(child_errno, std::generic_category(), "start " + exe);
  }
  return child;
}

ChildProcess ChildProcess::adopt(pid_t pid, int output_fd, int exec_report_fd) {
  ChildProcess child;
  child.pid_ = pid;
  child.output_fd_ = output_fd;
  child.exec_report_fd_ = exec_report_fd;
  return child;
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept { *this = std::move(other); }

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    kill_and_wait();
    pid_ = std::exchange(other.pid_, -1);
    output_fd_ = std::exchange(other.output_fd_, -1);
    exec_report_fd_ = std::exchange(other.exec_report_fd_, -1);
    exited_ = other.exited_;
    wait_status_ = other.wait_status_;
  }
  return *this;
}

ChildProcess::~ChildProcess() { kill_and_wait(); }

void ChildProcess::kill_and_wait() {
  if (output_fd_ >= 0) ::close(output_fd_);
  output_fd_ = -1;
  if (exec_report_fd_ >= 0) ::close(exec_report_fd_);
  exec_report_fd_ = -1;
  if (pid_ > 0 && !exited_) {
    ::kill(-pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    exited_ = true;
  }
  pid_ = -1;
}

int ChildProcess::release_output_fd() { return std::exchange(output_fd_, -1); }

int ChildProcess::release_exec_report_fd() { return std::exchange(exec_report_fd_, -1); }

void ChildProcess::signal_group(int signo) const {
  if (pid_ > 0 && !exited_) ::kill(-pid_, signo);
}

void ChildProcess::mark_exited(int wait_status) {
  exited_ = true;
  wait_status_ = wait_status;
  // Stragglers in the group (a bash bootstrap's curl) go with it.
  if (pid_ > 0) ::kill(-pid_, SIGKILL);
}

std::string ChildProcess::describe_exit() const {
  if (WIFEXITED(wait_status_)) return "exit status " + std::to_string(WEXITSTATUS(wait_status_));
  if (WIFSIGNALED(wait_status_)) {
    int sig = WTERMSIG(wait_status_);
    if (sig == SIGKILL) return "signal: killed";
    if (sig == SIGTERM) return "signal: terminated";
    if (sig == SIGSEGV) return "signal: segmentation fault";
    if (sig == SIGABRT) return "signal: aborted";
    return std::string("signal: ") + ::strsignal(sig);
  }
  return "unknown exit";
}

}  // namespace stratus::emulator
