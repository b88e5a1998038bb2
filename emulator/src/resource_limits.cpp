#include "stratus/emulator/resource_limits.hpp"

#include "stratus/emulator/stale_cgroups.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <charconv>
#include <cstring>

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>
#include <set>
#include <system_error>

#include <spdlog/spdlog.h>

namespace stratus::emulator {

namespace fs = std::filesystem;

namespace {

constexpr int kCfsPeriodUs = 100000;

// Writes a cgroup control file. The kernel judges the value at write(2), so its errno is the
// answer (EINVAL for a value it refuses, ENOENT for a controller that is not there).
std::error_code write_control(const fs::path& file, std::string_view text) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return {errno, std::generic_category()};
  std::error_code ec;
  ssize_t n = ::write(fd, text.data(), text.size());
  if (n < 0) ec = {errno, std::generic_category()};
  else if (static_cast<std::size_t>(n) != text.size()) ec = std::make_error_code(std::errc::io_error);
  if (::close(fd) != 0 && !ec) ec = {errno, std::generic_category()};
  return ec;
}

bool write_text(const fs::path& file, const std::string& text) { return !write_control(file, text); }

// A limit that is not essential to the environment (CPU share, swap): its failure is logged once per
// control file and the environment runs without it.
void set_optional_limit(const fs::path& file, const std::string& value) {
  std::error_code ec = write_control(file, value);
  if (!ec) return;
  static std::set<std::string> warned;
  if (warned.insert(file.filename().string()).second) {
    spdlog::warn("cgroup: cannot set {} to {} ({}); environments run without it", file.string(), value,
                 ec.message());
  }
}


// The cgroup path of this process for a v1 controller ("memory") or v2 (empty controller).
std::string cgroup_path_of(const fs::path& self_cgroup, const std::string& controller) {
  std::ifstream in(self_cgroup);
  std::string line;
  while (std::getline(in, line)) {
    auto first = line.find(':');
    auto second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    std::string controllers = line.substr(first + 1, second - first - 1);
    std::string path = line.substr(second + 1);
    if (controller.empty() && line.substr(0, first) == "0" && controllers.empty()) return path;
    std::stringstream ss(controllers);
    std::string c;
    while (std::getline(ss, c, ',')) {
      if (c == controller) return path;
    }
  }
  return "/";
}

// Creates our own parent group "stratus-<pid>" under `base`; false when not writable. Groups that
// killed daemons left under `base` are removed first.
bool make_parent(const fs::path& base, fs::path& out) {
  if (std::size_t stale = remove_stale_daemon_cgroups(base); stale > 0) {
    spdlog::info("cgroup: removed {} empty groups under {} left by daemons that are gone", stale,
                 base.string());
  }
  std::error_code ec;
  out = base / ("stratus-" + std::to_string(::getpid()));
  fs::create_directory(out, ec);
  return !ec && fs::is_directory(out);
}

void kill_members(const fs::path& dir) {
  std::ifstream in(dir / "cgroup.procs");
  pid_t pid;
  while (in >> pid) ::kill(pid, SIGKILL);
}

// Reads a small kernel file from offset 0 of an open descriptor into `buf`; empty on failure.
std::string_view pread_text(int fd, char* buf, std::size_t size) {
  if (fd < 0) return {};
  ssize_t n = ::pread(fd, buf, size - 1, 0);
  if (n <= 0) return {};
  buf[n] = '\0';
  return std::string_view(buf, static_cast<std::size_t>(n));
}

std::optional<std::uint64_t> leading_number(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr == text.data()) return std::nullopt;
  return value;
}

std::uint64_t vm_hwm_bytes(int status_fd) {
  char buf[4096];
  std::string_view text = pread_text(status_fd, buf, sizeof buf);
  auto pos = text.find("VmHWM:");
  if (pos == std::string_view::npos) return 0;
  return leading_number(text.substr(pos + 6)).value_or(0) * 1024;  // reported in kB
}

int open_read_only(const fs::path& path) {
  return path.empty() ? -1 : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
}

}  // namespace

double ResourceLimiter::vcpus_for_memory(int memory_mb) {
  return std::min(6.0, memory_mb / 1769.0);
}

const char* to_string(CgroupMode mode) {
  switch (mode) {
    case CgroupMode::Auto: return "auto";
    case CgroupMode::V2: return "v2";
    case CgroupMode::V1: return "v1";
    case CgroupMode::Off: return "off";
  }
  return "?";
}

std::unique_ptr<ResourceLimiter> ResourceLimiter::probe(bool enforce_cpu_quota, CgroupMode mode,
                                                        const fs::path& root, const fs::path& self_cgroup) {
  std::unique_ptr<ResourceLimiter> limiter(new ResourceLimiter());
  limiter->enforce_cpu_quota_ = enforce_cpu_quota;
  auto own_cgroup = [&](const std::string& controller) { return cgroup_path_of(self_cgroup, controller); };
  std::error_code ec;
  // cgroup_mode forces one hierarchy (or none); a forced one that is not there falls back to the
  // rlimit cap, saying why.
  if (mode == CgroupMode::Off) {
    limiter->why_ = "cgroup_mode is off";
  } else if (mode != CgroupMode::V1 && fs::exists(root / "cgroup.controllers", ec)) {
    // Pure cgroup v2. Our own group holds processes (us), so controllers can only be enabled for a
    // child group if we first move ourselves into a leaf: "<ours>/stratus-<pid>/daemon".
    fs::path ours = root / fs::path(own_cgroup("")).relative_path();
    fs::path parent;
    if (make_parent(ours, parent)) {
      fs::path leaf = parent / "daemon";
      fs::create_directory(leaf, ec);
      bool ok = !ec && write_text(leaf / "cgroup.procs", std::to_string(::getpid())) &&
                write_text(ours / "cgroup.subtree_control", "+memory +cpu") &&
                write_text(parent / "cgroup.subtree_control", "+memory +cpu");
      if (ok) {
        limiter->mode_ = LimitMode::CgroupV2;
        limiter->memory_root_ = parent;
        limiter->cpu_root_ = parent;
        return limiter;
      }
      limiter->why_ = "cgroup v2 is present but controllers could not be delegated to " + parent.string();
      fs::remove(leaf, ec);
      fs::remove(parent, ec);
    } else {
      limiter->why_ = "cgroup v2 at " + ours.string() + " is not writable";
    }
  } else if (mode != CgroupMode::V2 && fs::is_directory(root / "memory", ec)) {
    fs::path memory_parent;
    fs::path cpu_parent;
    if (make_parent(root / "memory" / fs::path(own_cgroup("memory")).relative_path(), memory_parent)) {
      limiter->mode_ = LimitMode::CgroupV1;
      limiter->memory_root_ = memory_parent;
      if (fs::is_directory(root / "cpu") &&
          make_parent(root / "cpu" / fs::path(own_cgroup("cpu")).relative_path(), cpu_parent)) {
        limiter->cpu_root_ = cpu_parent;
      }
      fs::path cpuacct_parent;
      if (fs::exists(root / "cpuacct" / "cpuacct.usage") &&
          make_parent(root / "cpuacct" / fs::path(own_cgroup("cpuacct")).relative_path(), cpuacct_parent)) {
        limiter->cpuacct_root_ = cpuacct_parent;
      }
      return limiter;
    }
    limiter->why_ = "cgroup v1 memory hierarchy is not writable";
  } else if (mode == CgroupMode::Auto) {
    limiter->why_ = "no cgroup hierarchy found";
  } else {
    limiter->why_ = std::string("cgroup_mode is ") + to_string(mode) + ", but " + root.string() + " is not a cgroup " +
                    to_string(mode) + " hierarchy";
  }
  limiter->mode_ = LimitMode::Rlimit;
  return limiter;
}

ResourceLimiter::~ResourceLimiter() {
  std::error_code ec;
  if (mode_ == LimitMode::CgroupV2) {
    // Move ourselves back so the parent group can be removed.
    fs::path ours = memory_root_.parent_path();
    if (auto failed = write_control(ours / "cgroup.procs", std::to_string(::getpid()))) {
      spdlog::warn("cgroup: cannot move the daemon back to {} ({}); {} stays behind", ours.string(),
                   failed.message(), memory_root_.string());
    }
    fs::remove(memory_root_ / "daemon", ec);
  }
  if (!memory_root_.empty()) fs::remove(memory_root_, ec);
  if (!cpu_root_.empty() && cpu_root_ != memory_root_) fs::remove(cpu_root_, ec);
  if (!cpuacct_root_.empty() && cpuacct_root_ != cpu_root_) fs::remove(cpuacct_root_, ec);
}

std::string ResourceLimiter::describe() const {
  std::string cpu = enforce_cpu_quota_ ? "CPU weight + quota" : "CPU weight";
  switch (mode_) {
    case LimitMode::CgroupV2:
      return "cgroup v2 (memory.max, " + cpu + ") under " + memory_root_.string();
    case LimitMode::CgroupV1:
      return "cgroup v1 (memory.limit_in_bytes under " + memory_root_.string() + "; " +
             (cpu_root_.empty() ? std::string("no CPU controller") : cpu + " under " + cpu_root_.string()) +
             ")";
    case LimitMode::Rlimit:
      return "RLIMIT_DATA memory cap only, no CPU share (" + why_ + ")";
  }
  return "unknown";
}

EnvironmentCgroups ResourceLimiter::create(const std::string& env_id, int memory_mb) {
  EnvironmentCgroups groups = create_unlimited(env_id);
  try {
    set_limits(groups, memory_mb);
  } catch (...) {
    destroy(groups);  // an environment that cannot have its memory cap is not started
    throw;
  }
  return groups;
}

EnvironmentCgroups ResourceLimiter::create_unlimited(const std::string& env_id) const {
  EnvironmentCgroups groups;
  if (mode_ == LimitMode::Rlimit) return groups;
  auto make = [&](const fs::path& root) {
    fs::path dir = root / env_id;
    std::error_code ec;
    fs::create_directory(dir, ec);
    if (ec) {
      for (const auto& made : groups.dirs) fs::remove(made, ec);  // the (empty) groups made so far
      throw std::system_error(ec, "create cgroup " + dir.string());
    }
    groups.dirs.push_back(dir);
    return dir;
  };
  if (mode_ == LimitMode::CgroupV2) {
    fs::path dir = make(memory_root_);
    groups.memory_dir = dir;
    groups.cpu_usage_file = dir / "cpu.stat";
    return groups;
  }
  groups.memory_dir = make(memory_root_);
  if (!cpu_root_.empty()) groups.cpu_dir = make(cpu_root_);
  if (!cpuacct_root_.empty() && cpuacct_root_ != cpu_root_) {
    fs::path acct_dir = make(cpuacct_root_);
    groups.cpu_usage_file = acct_dir / "cpuacct.usage";
  } else if (!cpu_root_.empty() && fs::exists(cpu_root_ / "cpuacct.usage")) {
    groups.cpu_usage_file = cpu_root_ / env_id / "cpuacct.usage";
  }
  return groups;
}

void ResourceLimiter::set_limits(const EnvironmentCgroups& groups, int memory_mb) const {
  if (mode_ == LimitMode::Rlimit || groups.memory_dir.empty()) return;
  const std::uint64_t bytes = static_cast<std::uint64_t>(memory_mb) * 1024 * 1024;
  const double vcpus = vcpus_for_memory(memory_mb);
  // The memory cap is Lambda's promise: a group that cannot have it is refused (the caller
  // discards it); the CPU share and quota are best effort, logged once when they fail.
  auto set_required_limit = [](const fs::path& file, const std::string& value) {
    if (std::error_code ec = write_control(file, value)) {
      throw std::system_error(ec, "set " + file.string() + " to " + value);
    }
  };
  if (mode_ == LimitMode::CgroupV2) {
    const fs::path& dir = groups.memory_dir;
    set_required_limit(dir / "memory.max", std::to_string(bytes));
    set_optional_limit(dir / "memory.swap.max", "0");  // absent without swap accounting
    // cpu.weight 1..10000, 100 is the default share: scale so 1 vCPU's worth gets 100.
    set_optional_limit(dir / "cpu.weight", std::to_string(std::clamp(static_cast<int>(vcpus * 100), 1, 10000)));
    if (enforce_cpu_quota_) {
      set_optional_limit(dir / "cpu.max", std::to_string(std::max(1000, static_cast<int>(vcpus * kCfsPeriodUs))) +
                                      " " + std::to_string(kCfsPeriodUs));
    }
    return;
  }
  set_required_limit(groups.memory_dir / "memory.limit_in_bytes", std::to_string(bytes));
  if (!groups.cpu_dir.empty()) {
    const fs::path& cpu_dir = groups.cpu_dir;
    set_optional_limit(cpu_dir / "cpu.shares", std::to_string(std::max(2, static_cast<int>(vcpus * 1024))));
    if (enforce_cpu_quota_) {
      set_optional_limit(cpu_dir / "cpu.cfs_period_us", std::to_string(kCfsPeriodUs));
      set_optional_limit(cpu_dir / "cpu.cfs_quota_us",
                 std::to_string(std::max(1000, static_cast<int>(vcpus * kCfsPeriodUs))));
    }
  }
}

std::vector<fs::path> ResourceLimiter::procs_files(const EnvironmentCgroups& groups) const {
  std::vector<fs::path> files;
  for (const auto& dir : groups.dirs) files.push_back(dir / "cgroup.procs");
  return files;
}

std::uint64_t ResourceLimiter::rlimit_bytes(int memory_mb) const {
  if (mode_ != LimitMode::Rlimit) return 0;
  return static_cast<std::uint64_t>(memory_mb) * 1024 * 1024;
}

void ResourceLimiter::open_probes(EnvironmentCgroups& groups, pid_t pid) const {
  if (!groups.memory_dir.empty()) {
    groups.memory_peak_fd = open_read_only(
        groups.memory_dir / (mode_ == LimitMode::CgroupV2 ? "memory.peak" : "memory.max_usage_in_bytes"));
  }
  groups.cpu_usage_fd = open_read_only(groups.cpu_usage_file);
  const fs::path proc = "/proc/" + std::to_string(pid);
  groups.proc_status_fd = open_read_only(proc / "status");
  groups.proc_stat_fd = open_read_only(proc / "stat");
}

std::uint64_t ResourceLimiter::memory_peak_bytes(EnvironmentCgroups& groups, pid_t) const {
  char buf[64];
  auto cgroup_peak = leading_number(pread_text(groups.memory_peak_fd, buf, sizeof buf));
  // Without memory accounting the process's own resident high-water mark is all there is.
  if (!cgroup_peak) return vm_hwm_bytes(groups.proc_status_fd);
  // The cgroup peak misses pages first charged to other groups (the code's page cache when
  // another environment of the function read it first); the process's VmHWM misses its children.
  // Both are real use, so the larger is reported. Those uncharged pages are mapped while the
  // runtime starts, so VmHWM is read once, at the first invocation: /proc/<pid>/status is rendered
  // whole on every read (3-5 us), while the cgroup's counter is one number (~0.4 us).
  if (!groups.process_hwm_read) {
    groups.process_hwm_bytes = vm_hwm_bytes(groups.proc_status_fd);
    groups.process_hwm_read = true;
  }
  return std::max(*cgroup_peak, groups.process_hwm_bytes);
}

double ResourceLimiter::cpu_time_ms(const EnvironmentCgroups& groups, pid_t) const {
  char buf[1024];
  if (groups.cpu_usage_fd >= 0) {
    std::string_view text = pread_text(groups.cpu_usage_fd, buf, sizeof buf);
    if (mode_ == LimitMode::CgroupV2) {
      auto pos = text.find("usage_usec ");
      if (pos != std::string_view::npos) {
        if (auto usec = leading_number(text.substr(pos + 11))) return static_cast<double>(*usec) / 1000.0;
      }
    } else if (auto ns = leading_number(text)) {
      return static_cast<double>(*ns) / 1e6;
    }
  }
  // /proc/<pid>/stat: fields 14-17 are utime, stime, cutime, cstime in clock ticks.
  std::string_view stat = pread_text(groups.proc_stat_fd, buf, sizeof buf);
  auto close_paren = stat.rfind(')');
  if (close_paren == std::string_view::npos) return 0;
  std::string_view rest = stat.substr(close_paren + 1);
  double ticks = 0;
  for (int field = 3; field <= 17 && !rest.empty(); ++field) {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    auto space = rest.find(' ');
    if (field >= 14) ticks += static_cast<double>(leading_number(rest.substr(0, space)).value_or(0));
    rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space);
  }
  return ticks * 1000.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

void ResourceLimiter::destroy(EnvironmentCgroups& groups) {
  for (int* fd : {&groups.memory_peak_fd, &groups.cpu_usage_fd, &groups.proc_status_fd, &groups.proc_stat_fd}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
  for (const auto& dir : groups.dirs) {
    kill_members(dir);
    std::error_code ec;
    // rmdir fails while killed members are still exiting; retry briefly.
    for (int i = 0; i < 50 && !fs::remove(dir, ec) && fs::exists(dir); ++i) ::usleep(2000);
  }
  groups.dirs.clear();
  groups.memory_dir.clear();
  groups.cpu_dir.clear();
}

}  // namespace stratus::emulator
