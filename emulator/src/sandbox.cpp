#include "stratus/emulator/sandbox.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <fstream>
#include <stdexcept>

#include <spdlog/spdlog.h>

namespace stratus::emulator {

namespace fs = std::filesystem;

namespace {

// <linux/mount.h> clashes with glibc's <sys/mount.h> on Debian 12; these are the kernel's values.
struct MountAttr {
  std::uint64_t attr_set;
  std::uint64_t attr_clr;
  std::uint64_t propagation;
  std::uint64_t userns_fd;
};
constexpr std::uint64_t kMountAttrReadOnly = 0x00000001;
constexpr std::uint64_t kMountAttrNoSuid = 0x00000002;
constexpr std::uint64_t kMountAttrNoDev = 0x00000004;
constexpr unsigned kAtRecursive = 0x8000;
#ifndef SYS_mount_setattr
constexpr long SYS_mount_setattr = 442;
#endif

// Adds flags to a mount (and, with `recursive`, every mount below it); unlike MS_REMOUNT it never
// clears flags, so it also works on mounts whose flags a user namespace has locked.
int add_mount_flags(const char* path, std::uint64_t flags, bool recursive) {
  MountAttr attr{flags, 0, 0, 0};
  return static_cast<int>(::syscall(SYS_mount_setattr, AT_FDCWD, path,
                                    recursive ? kAtRecursive : 0u, &attr, sizeof attr));
}

int write_text_in_child(const char* path, std::string_view text) {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  ssize_t n = ::write(fd, text.data(), text.size());
  int err = n == static_cast<ssize_t>(text.size()) ? 0 : (errno ? errno : EIO);
  ::close(fd);
  return err;
}

// The plan's strings as C strings: a SandboxPlan holds std::string, a FlatSandboxPlan pointers.
const char* c_str(const std::string& s) { return s.c_str(); }
const char* c_str(const char* s) { return s; }

int clear_capability_sets() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  return ::syscall(SYS_capset, &header, data) == 0 ? 0 : errno;
}

#define STRATUS_TRY(call)                          \
  do {                                             \
    if ((call) != 0) return errno ? errno : EPERM; \
  } while (0)

bool is_within(const fs::path& inner, const fs::path& outer) {
  auto a = inner.lexically_normal();
  auto b = outer.lexically_normal();
  auto ai = a.begin();
  for (auto bi = b.begin(); bi != b.end(); ++bi, ++ai) {
    if (bi->empty()) continue;  // a trailing separator
    if (ai == a.end() || *ai != *bi) return false;
  }
  return true;
}

int read_cap_last_cap() {
  std::ifstream in("/proc/sys/kernel/cap_last_cap");
  int value = 40;
  in >> value;
  return value > 0 && value < 64 ? value : 40;
}

// Bits the probe child reports.
enum ProbeBit : unsigned {
  kUnshare = 1u << 0,
  kPrivate = 1u << 1,
  kVarTask = 1u << 2,
  kHide = 1u << 3,
  kReadOnlyRoot = 1u << 4,
  kTmpfs = 1u << 5,
  kBounding = 1u << 6,
  kSwitchUid = 1u << 7,
};

// Runs in the probe child: each step the environments would take, in their order, on scratch
// paths; a step is only tried when the ones it builds on worked.
unsigned probe_in_child(const SandboxSettings& settings, bool root, const std::string& code,
                        const std::string& hidden, const std::string& uid_map,
                        const std::string& gid_map, int cap_last_cap) {
  unsigned bits = 0;
  if (settings.mount_namespace) {
    int flags = CLONE_NEWNS | (root ? 0 : CLONE_NEWUSER);
    bool ok = ::unshare(flags) == 0;
    if (ok && !root) {
      ok = write_text_in_child("/proc/self/setgroups", "deny") == 0 &&
           write_text_in_child("/proc/self/uid_map", uid_map) == 0 &&
           write_text_in_child("/proc/self/gid_map", gid_map) == 0;
    }
    if (ok) bits |= kUnshare;
    if (ok && ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0) {
      bits |= kPrivate;
      if (::access("/var/task", F_OK) == 0 &&
          ::mount(code.c_str(), "/var/task", nullptr, MS_BIND | MS_REC, nullptr) == 0 &&
          add_mount_flags("/var/task", kMountAttrReadOnly | kMountAttrNoSuid | kMountAttrNoDev,
                          false) == 0) {
        bits |= kVarTask;
      }
      if (::mount("tmpfs", hidden.c_str(), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  "size=4k,mode=0555") == 0) {
        bits |= kHide;
      }
      if (add_mount_flags("/", kMountAttrReadOnly, true) == 0) bits |= kReadOnlyRoot;
      if (::mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=1777") == 0)
        bits |= kTmpfs;
    }
  }
  bool bounding = true;
  for (int cap = 0; cap <= cap_last_cap; ++cap) {
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) bounding = false;
  }
  if (bounding) bits |= kBounding;
  if (root) {
    auto uid = static_cast<uid_t>(settings.uid_range_start);
    if (::setgroups(0, nullptr) == 0 && ::setresgid(uid, uid, uid) == 0 &&
        ::setresuid(uid, uid, uid) == 0 && ::geteuid() == uid) {
      bits |= kSwitchUid;
    }
  }
  return bits;
}

}  // namespace

namespace {

// One body for both plan types, so the pre-fork pool's processes get exactly the same steps.
template <class Plan>
int apply_plan_in_child(const Plan& p) {
  errno = 0;
  if (p.mount_namespace) {
    STRATUS_TRY(::unshare(CLONE_NEWNS | (p.user_namespace ? CLONE_NEWUSER : 0)));
    if (p.user_namespace) {
      if (int err = write_text_in_child("/proc/self/setgroups", "deny")) return err;
      if (int err = write_text_in_child("/proc/self/uid_map", c_str(p.uid_map))) return err;
      if (int err = write_text_in_child("/proc/self/gid_map", c_str(p.gid_map))) return err;
    }
    // Nothing mounted here may leak back to the host, nor host mounts appear later.
    STRATUS_TRY(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr));
    const char* root = c_str(p.task_root);
    STRATUS_TRY(::mount(c_str(p.code_dir), root, nullptr, MS_BIND | MS_REC, nullptr));
    STRATUS_TRY(
        add_mount_flags(root, kMountAttrReadOnly | kMountAttrNoSuid | kMountAttrNoDev, false));
    for (const auto& dir : p.hide_dirs) {
      STRATUS_TRY(::mount("tmpfs", c_str(dir), "tmpfs",
                          MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0555"));
    }
    for (const auto& file : p.hide_files) {
      STRATUS_TRY(::mount("/dev/null", c_str(file), nullptr, MS_BIND, nullptr));
    }
    if (p.read_only_root) STRATUS_TRY(add_mount_flags("/", kMountAttrReadOnly, true));
    if (p.tmp_tmpfs) {
      STRATUS_TRY(::mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, c_str(p.tmp_options)));
    }
  }
  if (p.file_size_limit > 0) {
    rlimit limit{p.file_size_limit, p.file_size_limit};
    STRATUS_TRY(::setrlimit(RLIMIT_FSIZE, &limit));
    // Over the limit a write then fails with EFBIG instead of the process being killed.
    ::signal(SIGXFSZ, SIG_IGN);
  }
  if (p.drop_bounding_set) {
    for (int cap = 0; cap <= p.cap_last_cap; ++cap) {
      if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) return errno;
    }
  }
  if (p.switch_uid) {
    STRATUS_TRY(::setgroups(0, nullptr));
    STRATUS_TRY(::setresgid(p.gid, p.gid, p.gid));
    // Leaving uid 0 clears the permitted, effective and ambient capability sets.
    STRATUS_TRY(::setresuid(p.uid, p.uid, p.uid));
  }
  if (int err = clear_capability_sets()) return err;
  STRATUS_TRY(::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
  return 0;
}

}  // namespace

int apply_sandbox_in_child(const SandboxPlan& p) { return apply_plan_in_child(p); }
int apply_sandbox_in_child(const FlatSandboxPlan& p) { return apply_plan_in_child(p); }

void plan_hidden_paths(const std::vector<fs::path>& candidates, const std::vector<fs::path>& needed,
                       std::vector<std::string>& dirs, std::vector<std::string>& files) {
  static const char* const kSystem[] = {"/",    "/usr", "/bin",  "/lib", "/lib64",    "/sbin",
                                        "/etc", "/dev", "/proc", "/sys", "/var/task", "/tmp"};
  std::vector<fs::path> out;
  std::vector<fs::path> work(candidates.begin(), candidates.end());
  while (!work.empty()) {
    fs::path c = work.back().lexically_normal();
    work.pop_back();
    std::error_code ec;
    auto status = fs::symlink_status(c, ec);
    if (ec || !fs::exists(status)) continue;
    bool system = false;
    for (const char* s : kSystem) system = system || is_within(s, c);
    if (system) continue;
    bool is_needed = false;
    bool holds_needed = false;
    for (const auto& n : needed) {
      if (is_within(c, n))
        is_needed = true;
      else if (is_within(n, c))
        holds_needed = true;
    }
    if (is_needed) continue;
    if (holds_needed) {
      if (fs::is_directory(status)) {
        for (const auto& entry : fs::directory_iterator(c, ec)) work.push_back(entry.path());
      }
      continue;
    }
    if (fs::is_directory(status) || fs::is_regular_file(status)) out.push_back(c);
  }
  // A path inside another hidden one is covered already (and its mount point would be gone).
  for (const auto& p : out) {
    bool covered = false;
    for (const auto& q : out) covered = covered || (q != p && is_within(p, q));
    if (covered) continue;
    (fs::is_directory(p) ? dirs : files).push_back(p.string());
  }
}

std::unique_ptr<Sandbox> Sandbox::probe(const SandboxSettings& settings, const fs::path& data_dir) {
  std::unique_ptr<Sandbox> sandbox(new Sandbox());
  sandbox->settings_ = settings;
  sandbox->data_dir_ = data_dir;
  sandbox->cap_last_cap_ = read_cap_last_cap();
  SandboxAbilities& a = sandbox->abilities_;
  a.root = ::geteuid() == 0;

  if (!settings.user.empty()) {
    const std::string& u = settings.user;
    uid_t uid = 0;
    auto [ptr, ec] = std::from_chars(u.data(), u.data() + u.size(), uid);
    if (ec == std::errc() && ptr == u.data() + u.size()) {
      sandbox->fixed_uid_ = uid;
      const passwd* pw = ::getpwuid(uid);
      sandbox->fixed_gid_ = pw ? pw->pw_gid : static_cast<gid_t>(uid);
    } else {
      const passwd* pw = ::getpwnam(u.c_str());
      if (!pw) throw std::runtime_error("sandbox.user '" + u + "' is not a user on this machine");
      sandbox->fixed_uid_ = pw->pw_uid;
      sandbox->fixed_gid_ = pw->pw_gid;
    }
    if (sandbox->fixed_uid_ == 0) throw std::runtime_error("sandbox.user must not be root");
    sandbox->fixed_user_ = true;
  }
  sandbox->uid_in_use_.assign(static_cast<std::size_t>(settings.uid_range_size), false);

  // Scratch paths for the probe; /var/task is Lambda's task root, created once when missing.
  fs::path scratch = data_dir / "sandbox-probe";
  std::error_code ec;
  fs::create_directories(scratch / "code", ec);
  fs::create_directories(scratch / "hidden", ec);
  if (a.root && settings.mount_namespace && !fs::exists("/var/task", ec)) {
    fs::create_directories("/var/task", ec);
    if (!ec) spdlog::info("sandbox: created /var/task (an empty mount point for functions' code)");
  }
  const std::string code = (scratch / "code").string();
  const std::string hidden = (scratch / "hidden").string();
  const std::string uid_map = std::to_string(::getuid()) + " " + std::to_string(::getuid()) + " 1";
  const std::string gid_map = std::to_string(::getgid()) + " " + std::to_string(::getgid()) + " 1";
  SandboxSettings probe_settings = settings;
  if (sandbox->fixed_user_) probe_settings.uid_range_start = static_cast<int>(sandbox->fixed_uid_);

  int report[2];
  unsigned bits = 0;
  if (::pipe2(report, O_CLOEXEC) == 0) {
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(report[0]);
      unsigned child_bits = probe_in_child(probe_settings, a.root, code, hidden, uid_map, gid_map,
                                           sandbox->cap_last_cap_);
      (void)!::write(report[1], &child_bits, sizeof child_bits);
      ::_exit(0);
    }
    ::close(report[1]);
    if (pid > 0) {
      if (::read(report[0], &bits, sizeof bits) != sizeof bits) bits = 0;
      int status = 0;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
    }
    ::close(report[0]);
  }
  fs::remove_all(scratch, ec);

  a.mount_namespace = (bits & kUnshare) && (bits & kPrivate);
  a.user_namespace = a.mount_namespace && !a.root;
  a.var_task = a.mount_namespace && (bits & kVarTask);
  a.hide = a.mount_namespace && (bits & kHide);
  a.tmp_tmpfs = a.mount_namespace && (bits & kTmpfs);
  // Without a private /tmp the per-environment directory in the data dir must stay writable.
  a.read_only_root = a.tmp_tmpfs && (bits & kReadOnlyRoot);
  a.drop_bounding_set = (bits & kBounding) != 0;
  a.switch_uid = a.root && (bits & kSwitchUid);
  if (!a.root && sandbox->fixed_user_) {
    spdlog::warn("sandbox: sandbox.user '{}' is ignored: the daemon does not run as root",
                 settings.user);
    sandbox->fixed_user_ = false;
  }
  spdlog::info("sandbox: {}", sandbox->describe());
  if (a.root && !a.switch_uid) {
    spdlog::warn("sandbox: the host refused setresuid: functions run as root");
  }
  if (settings.mount_namespace && !a.mount_namespace) {
    spdlog::warn(
        "sandbox: the host refused a private mount namespace: code is not at /var/task, "
        "/tmp is a directory in the data dir (per-file size limit only), the data dir is "
        "not hidden");
  }
  return sandbox;
}

std::string Sandbox::describe() const {
  const auto& a = abilities_;
  std::string s;
  if (a.switch_uid) {
    s += fixed_user_ ? "uid " + std::to_string(fixed_uid_) + " for every environment"
                     : "a uid per environment from " + std::to_string(settings_.uid_range_start);
  } else {
    s += "the daemon's own uid " + std::to_string(::geteuid());
  }
  s += ", no capabilities";
  if (!a.drop_bounding_set) s += " (bounding set kept)";
  s += ", no-new-privileges, only stdin/stdout/stderr inherited";
  if (a.mount_namespace) {
    s += std::string(", private mount namespace") +
         (a.user_namespace ? " (in a user namespace)" : "") + ": code read-only at " +
         (a.var_task ? "/var/task" : "its own path") +
         (a.tmp_tmpfs ? ", /tmp a tmpfs of EphemeralStorage size" : ", /tmp in the data dir") +
         (a.hide ? ", data dir and other functions' code hidden" : "") +
         (a.read_only_root ? ", every other mount read-only" : "");
  } else {
    s += ", no mount namespace";
  }
  return s;
}

SandboxPlan Sandbox::plan(const fs::path& code_dir, int ephemeral_storage_mb,
                          const fs::path& tmp_fallback,
                          const std::vector<fs::path>& other_code_dirs) {
  const auto& a = abilities_;
  SandboxPlan p;
  p.cap_last_cap = cap_last_cap_;
  p.drop_bounding_set = a.drop_bounding_set;
  if (a.switch_uid) {
    p.switch_uid = true;
    if (fixed_user_) {
      p.uid = fixed_uid_;
      p.gid = fixed_gid_;
    } else {
      std::size_t n = uid_in_use_.size();
      std::size_t i = 0;
      for (; i < n && uid_in_use_[(next_uid_ + i) % n]; ++i) {
      }
      if (i == n) throw std::runtime_error("every sandbox uid is in use (sandbox.uid_range_size)");
      std::size_t slot = (next_uid_ + i) % n;
      uid_in_use_[slot] = true;
      next_uid_ = slot + 1;
      p.uid = static_cast<uid_t>(settings_.uid_range_start + static_cast<int>(slot));
      p.own_uid = true;
      p.gid = static_cast<gid_t>(p.uid);
    }
  }
  p.code_dir = code_dir.string();
  p.task_root = p.code_dir;
  const std::uint64_t tmp_bytes = static_cast<std::uint64_t>(ephemeral_storage_mb) << 20;
  if (a.mount_namespace) {
    p.mount_namespace = true;
    p.user_namespace = a.user_namespace;
    p.uid_map = std::to_string(::getuid()) + " " + std::to_string(::getuid()) + " 1";
    p.gid_map = std::to_string(::getgid()) + " " + std::to_string(::getgid()) + " 1";
    p.bind_var_task = a.var_task;
    if (a.var_task) p.task_root = "/var/task";
    p.tmp_tmpfs = a.tmp_tmpfs;
    p.read_only_root = a.read_only_root;
    p.tmp_options = "size=" + std::to_string(tmp_bytes) + ",mode=1777";
    if (a.hide) {
      std::vector<fs::path> candidates = {data_dir_};
      for (const auto& dir : other_code_dirs) {
        if (dir.lexically_normal() != code_dir.lexically_normal()) candidates.push_back(dir);
      }
      std::vector<fs::path> needed;
      if (!p.bind_var_task) needed.push_back(code_dir);
      if (!p.tmp_tmpfs) needed.push_back(tmp_fallback);
      plan_hidden_paths(candidates, needed, p.hide_dirs, p.hide_files);
    }
  }
  if (p.tmp_tmpfs) {
    p.tmp_dir = "/tmp";
  } else {
    p.tmp_dir = tmp_fallback.string();
    p.file_size_limit = tmp_bytes;
    if (p.switch_uid && ::chown(tmp_fallback.c_str(), p.uid, p.gid) != 0) {
      throw std::runtime_error("cannot hand " + tmp_fallback.string() + " to the sandbox uid");
    }
  }
  return p;
}

void Sandbox::release(const SandboxPlan& plan) {
  if (!plan.switch_uid || fixed_user_) return;
  auto slot = static_cast<std::size_t>(static_cast<int>(plan.uid) - settings_.uid_range_start);
  if (slot < uid_in_use_.size()) uid_in_use_[slot] = false;
}

}  // namespace stratus::emulator
