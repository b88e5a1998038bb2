#pragma once
// Memory and CPU limits for execution environments. At start-up the daemon probes what it may use:
// cgroup v2 (memory.max, cpu.weight/cpu.max), cgroup v1 (memory.limit_in_bytes, cpu.shares/
// cpu.cfs_quota_us), or, when neither is writable, an RLIMIT_DATA memory cap and no CPU control.
// CPU follows Lambda: 1769 MB of memory buys one vCPU, up to 6.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace stratus::emulator {

enum class LimitMode { CgroupV2, CgroupV1, Rlimit };

// The config's "cgroup_mode": auto probes v2 then v1; v2 or v1 uses only that hierarchy; off uses
// none (the RLIMIT_DATA cap). A forced hierarchy that is absent or not writable falls back to the cap.
enum class CgroupMode { Auto, V2, V1, Off };
const char* to_string(CgroupMode mode);

// The cgroups of one environment; removed (after killing anything left in them) by the limiter.
struct EnvironmentCgroups {
  std::vector<std::filesystem::path> dirs;
  std::filesystem::path memory_dir;  // empty when memory is not under a cgroup
  std::filesystem::path cpu_dir;     // cgroup v1's cpu controller group; empty otherwise
  std::filesystem::path cpu_usage_file;  // cpuacct.usage (v1, ns) or cpu.stat (v2, usage_usec)
  // Kept open once the process exists (open_probes): every invocation reads them twice, and one
  // pread beats open + read + close by two thirds of the syscalls.
  int memory_peak_fd = -1;
  int cpu_usage_fd = -1;
  int proc_status_fd = -1;
  int proc_stat_fd = -1;
  // The process's VmHWM at its first measurement (memory_peak_bytes), with cgroup accounting.
  std::uint64_t process_hwm_bytes = 0;
  bool process_hwm_read = false;
};

class ResourceLimiter {
 public:
  // Probes the machine; `enforce_cpu_quota` caps CPU time (Lambda does), not only weights it.
  // `root` and `self_cgroup` are the cgroup mount and /proc/self/cgroup (tests pass fake ones).
  static std::unique_ptr<ResourceLimiter> probe(bool enforce_cpu_quota, CgroupMode mode = CgroupMode::Auto,
                                                const std::filesystem::path& root = "/sys/fs/cgroup",
                                                const std::filesystem::path& self_cgroup = "/proc/self/cgroup");
  ~ResourceLimiter();

  LimitMode mode() const { return mode_; }
  std::string describe() const;

  // Creates the cgroups for one environment (no-op in rlimit mode). Throws std::system_error.
  EnvironmentCgroups create(const std::string& env_id, int memory_mb);
  // The same groups without limits yet, for a process placed in them ahead of need (the pre-fork
  // pool); set_limits() then gives them a function's limits before its code runs.
  EnvironmentCgroups create_unlimited(const std::string& env_id) const;
  void set_limits(const EnvironmentCgroups& groups, int memory_mb) const;
  // Files the child writes its pid into before exec.
  std::vector<std::filesystem::path> procs_files(const EnvironmentCgroups& groups) const;
  std::uint64_t rlimit_bytes(int memory_mb) const;
  // Opens the files the per-invocation measurements read, once the process `pid` exists.
  void open_probes(EnvironmentCgroups& groups, pid_t pid) const;
  // Peak memory of the environment in bytes: the cgroup's peak (at least the process's VmHWM at
  // the first reading), else the process's VmHWM.
  std::uint64_t memory_peak_bytes(EnvironmentCgroups& groups, pid_t pid) const;
  // CPU time the environment has used so far, in milliseconds (cgroup accounting, else the
  // process's own utime+stime from /proc, which has 10 ms resolution).
  double cpu_time_ms(const EnvironmentCgroups& groups, pid_t pid) const;
  // Kills whatever is still inside the groups (processes that left the process group) and
  // removes them.
  void destroy(EnvironmentCgroups& groups);

  static double vcpus_for_memory(int memory_mb);

 private:
  ResourceLimiter() = default;
  LimitMode mode_ = LimitMode::Rlimit;
  bool enforce_cpu_quota_ = true;
  std::filesystem::path memory_root_;  // our parent cgroup for memory (v1) or everything (v2)
  std::filesystem::path cpu_root_;
  std::filesystem::path cpuacct_root_;
  std::string why_;  // why the probe settled on this mode
};

}  // namespace stratus::emulator
