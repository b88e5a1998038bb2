#pragma once
// The sandbox of one execution environment, as much of Lambda's as a process can have: an
// unprivileged uid, no capabilities, no-new-privileges, the code read-only (at /var/task when a
// private mount namespace is possible), a private /tmp limited to the function's ephemeral storage,
// the daemon's data dir and other functions' code hidden, every other mount read-only. What the
// host allows is probed once at start-up (Sandbox::probe) and logged; what it refuses is left out.
//
// A SandboxPlan is prepared in the daemon before fork; apply_sandbox_in_child() runs between fork
// and exec and uses only async-signal-safe system calls on the plan's pre-built strings.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace stratus::emulator {

// The "sandbox" section of the config file.
struct SandboxSettings {
  // User every environment runs as (a name or a numeric uid); empty = when the daemon runs as
  // root, a uid of its own per environment from the range below; as another user, no switch.
  std::string user;
  int uid_range_start = 61000;
  int uid_range_size = 4096;
  // Try a private mount namespace per environment (code at /var/task, private /tmp, hidden paths).
  bool mount_namespace = true;
};

// What the host allowed when probed.
struct SandboxAbilities {
  bool root = false;               // the daemon's effective uid is 0
  bool switch_uid = false;         // setresuid to an unprivileged uid works
  bool user_namespace = false;     // non-root: a user namespace grants the mount steps below
  bool mount_namespace = false;    // unshare(CLONE_NEWNS) + private propagation
  bool var_task = false;           // the code can be bound at /var/task
  bool hide = false;               // tmpfs mounts over hidden paths
  bool read_only_root = false;     // mount_setattr(AT_RECURSIVE, MOUNT_ATTR_RDONLY) on /
  bool tmp_tmpfs = false;          // a size-limited tmpfs on /tmp
  bool drop_bounding_set = false;  // PR_CAPBSET_DROP works
};

// Everything the child needs, as C strings prepared before fork.
struct SandboxPlan {
  bool switch_uid = false;
  bool own_uid = false;  // the uid is this environment's alone (not a shared sandbox.user)
  uid_t uid = 0;
  gid_t gid = 0;
  bool user_namespace = false;
  std::string uid_map;  // "<inside> <outside> 1" for the user namespace
  std::string gid_map;
  bool mount_namespace = false;
  std::string code_dir;   // the function's code on the host
  std::string task_root;  // where the process sees it: /var/task or code_dir
  bool bind_var_task = false;
  std::vector<std::string> hide_dirs;   // covered by an empty read-only tmpfs
  std::vector<std::string> hide_files;  // covered by /dev/null
  bool read_only_root = false;
  bool tmp_tmpfs = false;
  std::string tmp_options;            // tmpfs mount data: "size=...,mode=1777"
  std::string tmp_dir;                // what the process uses as /tmp (TMPDIR)
  std::uint64_t file_size_limit = 0;  // RLIMIT_FSIZE when /tmp cannot be size-limited; 0 = none
  bool drop_bounding_set = false;
  int cap_last_cap = 40;
};

// A list of C strings that a range-for can walk.
struct CStringList {
  const char* const* items = nullptr;
  std::size_t count = 0;
  const char* const* begin() const { return items; }
  const char* const* end() const { return items + count; }
};

// The same plan with every string as a pointer, so it can be laid out in memory shared with a
// process forked before the plan existed (prefork_pool.hpp) and read there without allocating.
struct FlatSandboxPlan {
  bool switch_uid = false;
  uid_t uid = 0;
  gid_t gid = 0;
  bool user_namespace = false;
  const char* uid_map = "";
  const char* gid_map = "";
  bool mount_namespace = false;
  const char* code_dir = "";
  const char* task_root = "";
  bool bind_var_task = false;
  CStringList hide_dirs;
  CStringList hide_files;
  bool read_only_root = false;
  bool tmp_tmpfs = false;
  const char* tmp_options = "";
  std::uint64_t file_size_limit = 0;
  bool drop_bounding_set = false;
  int cap_last_cap = 40;
};

// Runs the plan in the forked child. Returns 0, or the errno of the step that failed (the child
// then reports it and exits 127). Both overloads run the same steps.
int apply_sandbox_in_child(const SandboxPlan& plan);
int apply_sandbox_in_child(const FlatSandboxPlan& plan);

class Sandbox {
 public:
  // Probes the host (a forked child tries each step) and logs what environments will get.
  static std::unique_ptr<Sandbox> probe(const SandboxSettings& settings,
                                        const std::filesystem::path& data_dir);

  const SandboxAbilities& abilities() const { return abilities_; }
  std::string describe() const;

  // The plan for one environment: `tmp_fallback` is the per-environment directory used as TMPDIR
  // when /tmp cannot be private; `other_code_dirs` are hidden from it.
  SandboxPlan plan(const std::filesystem::path& code_dir, int ephemeral_storage_mb,
                   const std::filesystem::path& tmp_fallback,
                   const std::vector<std::filesystem::path>& other_code_dirs);
  // Gives an environment's uid back to the pool.
  void release(const SandboxPlan& plan);

 private:
  Sandbox() = default;
  SandboxSettings settings_;
  SandboxAbilities abilities_;
  std::filesystem::path data_dir_;
  bool fixed_user_ = false;  // settings_.user named one user for every environment
  uid_t fixed_uid_ = 0;
  gid_t fixed_gid_ = 0;
  std::vector<bool> uid_in_use_;
  std::size_t next_uid_ = 0;  // round robin, so a uid is reused as late as possible
  int cap_last_cap_ = 40;
};

// Paths to cover so that none of `candidates` stays visible while every path in `needed` does:
// a candidate that contains a needed path is replaced by its other entries, recursively.
void plan_hidden_paths(const std::vector<std::filesystem::path>& candidates,
                       const std::vector<std::filesystem::path>& needed,
                       std::vector<std::string>& dirs, std::vector<std::string>& files);

}  // namespace stratus::emulator
