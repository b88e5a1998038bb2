#include "stratus/emulator/prefork_pool.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "child_exec_steps.hpp"

namespace stratus::emulator {

namespace {

// Room for the spawn spec and the sandbox plan. MAP_NORESERVE: only the pages written cost memory.
constexpr std::size_t kRegionBytes = 1 << 20;
// How long after a claim the pool waits before placing a replacement (see run()).
constexpr std::chrono::milliseconds kReplenishDelay{50};

// What the waiting process reads once it is let go. Every pointer points into the same shared
// region, which fork maps at the same address in both processes.
struct Job {
  const char* executable;
  const char* working_dir;
  char* const* argv;
  char* const* envp;
  std::uint64_t rlimit_data_bytes;
  bool has_sandbox;
  FlatSandboxPlan sandbox;
};

// Lays strings and pointer arrays out after the Job; fails (returns null) when the region is full.
class RegionWriter {
 public:
  explicit RegionWriter(void* region) : base_(static_cast<char*>(region)), used_(sizeof(Job)) {}
  Job& job() { return *reinterpret_cast<Job*>(base_); }

  const char* put(std::string_view text) {
    char* out = take(text.size() + 1, 1);
    if (!out) return nullptr;
    std::memcpy(out, text.data(), text.size());
    out[text.size()] = '\0';
    return out;
  }
  // A null-terminated array of the strings; `ok` turns false when anything did not fit.
  template <class Range>
  const char** put_list(const Range& items, std::size_t count) {
    auto** out = reinterpret_cast<const char**>(take((count + 1) * sizeof(char*), alignof(char*)));
    if (!out) return nullptr;
    std::size_t i = 0;
    for (const auto& item : items) {
      out[i] = put(item);
      if (!out[i]) return nullptr;
      ++i;
    }
    out[i] = nullptr;
    return out;
  }

 private:
  char* take(std::size_t bytes, std::size_t align) {
    std::size_t start = (used_ + align - 1) / align * align;
    if (start + bytes > kRegionBytes) return nullptr;
    used_ = start + bytes;
    return base_ + start;
  }
  char* base_;
  std::size_t used_;
};

bool lay_out(void* region, const SpawnSpec& spec) {
  RegionWriter w(region);
  Job& job = w.job();
  job.executable = w.put(spec.executable.string());
  job.working_dir = w.put(spec.working_dir.string());
  std::vector<std::string> argv = {spec.executable.string()};
  job.argv = const_cast<char* const*>(w.put_list(argv, argv.size()));
  job.envp = const_cast<char* const*>(w.put_list(spec.environment, spec.environment.size()));
  job.rlimit_data_bytes = spec.rlimit_data_bytes;
  job.has_sandbox = spec.sandbox != nullptr;
  if (!job.executable || !job.working_dir || !job.argv || !job.envp) return false;
  if (!spec.sandbox) return true;
  const SandboxPlan& p = *spec.sandbox;
  FlatSandboxPlan& f = job.sandbox;
  f = FlatSandboxPlan{};
  f.switch_uid = p.switch_uid;
  f.uid = p.uid;
  f.gid = p.gid;
  f.user_namespace = p.user_namespace;
  f.mount_namespace = p.mount_namespace;
  f.bind_var_task = p.bind_var_task;
  f.read_only_root = p.read_only_root;
  f.tmp_tmpfs = p.tmp_tmpfs;
  f.file_size_limit = p.file_size_limit;
  f.drop_bounding_set = p.drop_bounding_set;
  f.cap_last_cap = p.cap_last_cap;
  f.uid_map = w.put(p.uid_map);
  f.gid_map = w.put(p.gid_map);
  f.code_dir = w.put(p.code_dir);
  f.task_root = w.put(p.task_root);
  f.tmp_options = w.put(p.tmp_options);
  f.hide_dirs = {w.put_list(p.hide_dirs, p.hide_dirs.size()), p.hide_dirs.size()};
  f.hide_files = {w.put_list(p.hide_files, p.hide_files.size()), p.hide_files.size()};
  return f.uid_map && f.gid_map && f.code_dir && f.task_root && f.tmp_options &&
         f.hide_dirs.items && f.hide_files.items;
}

int pidfd_open(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Closes every descriptor except the `keep` ones (sorted), right after fork: a waiting process
// must not hold the daemon's sockets or other environments' pipes open while it waits.
void close_all_but(int a, int b, int c) {
  int keep[3] = {a, b, c};
  std::sort(keep, keep + 3);
  unsigned from = 3;
  for (int k : keep) {
    if (static_cast<unsigned>(k) > from)
      ::syscall(SYS_close_range, from, static_cast<unsigned>(k) - 1, 0u);
    from = static_cast<unsigned>(k) + 1;
  }
  ::syscall(SYS_close_range, from, ~0u, 0u);
}

}  // namespace

struct PreforkPool::Slot {
  std::uint64_t id = 0;
  pid_t pid = -1;
  int pidfd = -1;
  int go_fd = -1;      // write end: one byte lets the process go; closing it makes it exit
  int output_fd = -1;  // read end of its stdout+stderr
  int report_fd = -1;  // read end of its exec report
  void* region = MAP_FAILED;
  EnvironmentCgroups cgroups;
};

PreforkPool::PreforkPool(ResourceLimiter& limiter, std::size_t size)
    : limiter_(limiter), size_(size) {
  if (size_ == 0) return;
  if (::pipe2(wake_fds_, O_CLOEXEC | O_NONBLOCK) != 0) {
    throw std::system_error(errno, std::generic_category(), "pipe");
  }
  thread_ = std::thread([this] { run(); });
}

PreforkPool::~PreforkPool() {
  if (thread_.joinable()) {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake();
    thread_.join();
  }
  std::deque<std::unique_ptr<Slot>> left;
  {
    std::lock_guard lock(mutex_);
    left.swap(ready_);
  }
  for (auto& slot : left) discard(std::move(slot), true);
  close_fd(wake_fds_[0]);
  close_fd(wake_fds_[1]);
}

void PreforkPool::wake() {
  if (wake_fds_[1] >= 0) (void)!::write(wake_fds_[1], "w", 1);
}

std::unique_ptr<PreforkPool::Slot> PreforkPool::start_one() {
  auto slot = std::make_unique<Slot>();
  {
    std::lock_guard lock(mutex_);
    slot->id = next_id_++;
  }
  // Everything the child needs exists before fork: it allocates nothing.
  slot->cgroups = limiter_.create_unlimited("pool-" + std::to_string(::getpid()) + "-" +
                                            std::to_string(slot->id));
  std::vector<std::string> procs;
  for (const auto& p : limiter_.procs_files(slot->cgroups)) procs.push_back(p.string());
  slot->region = ::mmap(nullptr, kRegionBytes, PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  int go[2] = {-1, -1}, output[2] = {-1, -1}, report[2] = {-1, -1};
  auto fail = [&](const char* what) {
    int err = errno;
    for (int* fd : {&go[0], &go[1], &output[0], &output[1], &report[0], &report[1]}) close_fd(*fd);
    discard(std::move(slot), true);
    throw std::system_error(err, std::generic_category(), what);
  };
  if (slot->region == MAP_FAILED) fail("mmap");
  if (::pipe2(go, O_CLOEXEC) != 0 || ::pipe2(output, O_CLOEXEC) != 0 ||
      ::pipe2(report, O_CLOEXEC) != 0) {
    fail("pipe");
  }
  const long open_max = ::sysconf(_SC_OPEN_MAX);
  const int max_fd = open_max > 0 && open_max < (1 << 20) ? static_cast<int>(open_max) : (1 << 20);
  const pid_t parent = ::getpid();
  const Job* job = static_cast<const Job*>(slot->region);
  pid_t pid = ::fork();
  if (pid < 0) fail("fork");
  if (pid == 0) {
    const int go_fd = go[0], output_fd = output[1], report_fd = report[1];
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (const auto& file : procs) child_steps::write_pid_to(file.c_str(), report_fd);
    // In its groups now: tell the pool (an int 0 on the report pipe, where errors are errnos).
    const int joined = 0;
    if (::write(report_fd, &joined, sizeof joined) != sizeof joined) ::_exit(127);
    close_all_but(go_fd, output_fd, report_fd);
    char go_byte = 0;
    ssize_t n;
    do {
      n = ::read(go_fd, &go_byte, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) ::_exit(0);  // the pool let it go without work: shutdown
    // From here on the same steps as ChildProcess::spawn's child after joining its cgroups.
    if (job->rlimit_data_bytes > 0) {
      rlimit limit{job->rlimit_data_bytes, job->rlimit_data_bytes};
      if (::setrlimit(RLIMIT_DATA, &limit) != 0) child_steps::fail(report_fd);
    }
    if (job->has_sandbox) {
      if (int err = apply_sandbox_in_child(job->sandbox)) {
        errno = err;
        child_steps::fail(report_fd);
      }
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // changing credentials cleared it
      if (::getppid() != parent) ::_exit(127);
    }
    if (::chdir(job->working_dir) != 0) child_steps::fail(report_fd);
    int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0 || ::dup2(devnull, 0) < 0) child_steps::fail(report_fd);
    if (::dup2(output_fd, 1) < 0 || ::dup2(output_fd, 2) < 0) child_steps::fail(report_fd);
    child_steps::close_other_descriptors_at_exec(max_fd);
    ::execve(job->executable, job->argv, job->envp);
    child_steps::fail(report_fd);
  }
  slot->pid = pid;
  slot->pidfd = pidfd_open(pid);
  close_fd(go[0]);
  close_fd(output[1]);
  close_fd(report[1]);
  slot->go_fd = std::exchange(go[1], -1);
  slot->output_fd = std::exchange(output[0], -1);
  slot->report_fd = std::exchange(report[0], -1);
  if (slot->pidfd < 0) fail("pidfd_open");
  // Ready only once it sits in its groups: the migration is what the pool is there to wait out.
  int joined = -1;
  ssize_t n;
  do {
    n = ::read(slot->report_fd, &joined, sizeof joined);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(sizeof joined) || joined != 0) {
    errno = n == static_cast<ssize_t>(sizeof joined) ? joined : ECHILD;
    fail("join cgroups");
  }
  return slot;
}

void PreforkPool::discard(std::unique_ptr<Slot> slot, bool kill_first) {
  if (!slot) return;
  if (slot->pidfd >= 0) {
    if (kill_first) ::syscall(SYS_pidfd_send_signal, slot->pidfd, SIGKILL, nullptr, 0);
    // Reaps this very process (not a later one with the same pid). ECHILD: the daemon's SIGCHLD
    // handler was first, which is as good.
    siginfo_t info{};
    while (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(slot->pidfd), &info,
                    WEXITED) < 0 &&
           errno == EINTR) {
    }
  } else if (slot->pid > 0) {
    ::kill(slot->pid, SIGKILL);
    ::waitpid(slot->pid, nullptr, 0);
  }
  for (int* fd : {&slot->pidfd, &slot->go_fd, &slot->output_fd, &slot->report_fd}) close_fd(*fd);
  if (slot->region != MAP_FAILED) ::munmap(slot->region, kRegionBytes);
  limiter_.destroy(slot->cgroups);
}

void PreforkPool::run() {
  int backoff_ms = 0;  // after a failed start, so a broken host does not spin
  while (true) {
    std::vector<pollfd> fds = {{wake_fds_[0], POLLIN, 0}};
    std::vector<std::uint64_t> ids;
    bool want_more = false;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      want_more = ready_.size() < size_;
      for (const auto& slot : ready_) {
        fds.push_back({slot->pidfd, POLLIN, 0});
        ids.push_back(slot->id);
      }
    }
    // Not right after a claim: placing a replacement takes the kernel's cgroup threadgroup lock for
    // writing for 10-16 ms, which stalls every fork and thread creation on the host, including the
    // just-claimed process's runtime starting up.
    int settle_ms = 0;
    if (want_more) {
      std::lock_guard lock(mutex_);
      auto since = std::chrono::steady_clock::now() - last_claim_;
      if (since < kReplenishDelay) {
        settle_ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         kReplenishDelay - since)
                                         .count()) +
                    1;
      }
    }
    if (want_more && backoff_ms == 0 && settle_ms == 0) {
      try {
        auto slot = start_one();
        std::lock_guard lock(mutex_);
        ready_.push_back(std::move(slot));
        ++stats_.started;
        continue;
      } catch (const std::exception& e) {
        spdlog::warn("pre-fork pool: cannot start a process: {}", e.what());
        backoff_ms = 1000;
      }
    }
    int timeout = backoff_ms > 0 ? backoff_ms : (settle_ms > 0 ? settle_ms : -1);
    int n = ::poll(fds.data(), fds.size(), timeout);
    if (n == 0 && backoff_ms > 0) backoff_ms = 0;
    if (n <= 0) continue;
    if (fds[0].revents) {
      char buf[64];
      while (::read(wake_fds_[0], buf, sizeof buf) > 0) {
      }
    }
    for (std::size_t i = 1; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      std::unique_ptr<Slot> dead;
      {
        std::lock_guard lock(mutex_);
        auto it = std::find_if(ready_.begin(), ready_.end(),
                               [&](const auto& s) { return s->id == ids[i - 1]; });
        if (it == ready_.end()) continue;  // claimed meanwhile: no longer ours
        dead = std::move(*it);
        ready_.erase(it);
        ++stats_.replaced;
      }
      spdlog::debug("pre-fork pool: process {} died while waiting; replacing it", dead->pid);
      discard(std::move(dead), false);
    }
  }
}

std::optional<ClaimedProcess> PreforkPool::claim(const SpawnSpec& spec, int memory_mb) {
  std::unique_ptr<Slot> slot;
  {
    std::lock_guard lock(mutex_);
    if (ready_.empty()) return std::nullopt;
    slot = std::move(ready_.front());
    ready_.pop_front();
    last_claim_ = std::chrono::steady_clock::now();
  }
  wake();
  // A process killed while waiting is not handed out (its pidfd is readable once it is gone).
  pollfd alive{slot->pidfd, POLLIN, 0};
  if (::poll(&alive, 1, 0) != 0 || !lay_out(slot->region, spec)) {
    discard(std::move(slot), true);
    return std::nullopt;
  }
  try {
    limiter_.set_limits(slot->cgroups, memory_mb);
  } catch (...) {
    discard(std::move(slot), true);
    throw;
  }
  if (::write(slot->go_fd, "g", 1) != 1) {
    discard(std::move(slot), true);
    return std::nullopt;
  }
  // The process has its own mapping of the region and reads the job from there.
  ::munmap(slot->region, kRegionBytes);
  slot->region = MAP_FAILED;
  close_fd(slot->go_fd);
  close_fd(slot->pidfd);
  {
    std::lock_guard lock(mutex_);
    ++stats_.claimed;
  }
  ClaimedProcess claimed{ChildProcess::adopt(slot->pid, std::exchange(slot->output_fd, -1),
                                             std::exchange(slot->report_fd, -1)),
                         std::move(slot->cgroups)};
  return claimed;
}

PreforkPoolStats PreforkPool::stats() const {
  std::lock_guard lock(mutex_);
  PreforkPoolStats s = stats_;
  s.ready = ready_.size();
  return s;
}

std::vector<pid_t> PreforkPool::ready_pids() const {
  std::lock_guard lock(mutex_);
  std::vector<pid_t> pids;
  for (const auto& slot : ready_) pids.push_back(slot->pid);
  return pids;
}

}  // namespace stratus::emulator
