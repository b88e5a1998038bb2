// The pre-fork pool against the real kernel: processes placed in real cgroups (when the host
// allows them), claimed with a function's limits and sandbox, replaced when they die, reaped when
// the pool goes. Waits are bounded loops on the pool's state, never timing assertions.
#include "stratus/emulator/prefork_pool.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "stratus/emulator/child_process.hpp"
#include "stratus/emulator/resource_limits.hpp"
#include "stratus/emulator/sandbox.hpp"

namespace stratus::emulator {
namespace {

namespace fs = std::filesystem;

// Until `done()` holds, for at most 60 s (a hang fails here instead of at ctest's timeout).
template <class Done>
bool wait_until(Done done) {
  for (int i = 0; i < 6000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool process_exists(pid_t pid) {
  return ::kill(pid, 0) == 0 || errno != ESRCH;
}

class PreforkPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("stratus-prefork-test-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "code");
    fs::create_directories(dir_ / "tmp");
    // Reports what the process is: its cgroups, identity, no_new_privs, mount view, environment.
    std::ofstream script(dir_ / "code" / "bootstrap");
    script << "#!/bin/sh\n"
              "echo \"pwd=$(pwd)\"\n"
              "echo \"env=$MARK\"\n"
              "grep -E '^(Uid|Gid|NoNewPrivs|CapEff|CapBnd):' /proc/self/status\n"
              "echo \"fds=$(ls /proc/self/fd | wc -l)\"\n"
              "test -x /var/task/bootstrap && echo var_task=yes || echo var_task=no\n"
              "awk '$2 == \"/tmp\" {print \"tmp=\" $3}' /proc/self/mounts\n"
              "sed -n 's/^[0-9]*:memory:/memory=/p' /proc/self/cgroup\n";
    script.close();
    fs::permissions(dir_ / "code" / "bootstrap",
                    fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                        fs::perms::others_read | fs::perms::others_exec);
    limiter_ = ResourceLimiter::probe(true);
    sandbox_ = Sandbox::probe(SandboxSettings{}, dir_ / "data");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  SpawnSpec spec(const SandboxPlan& plan) {
    SpawnSpec s;
    s.executable = fs::path(plan.task_root) / "bootstrap";
    s.working_dir = plan.task_root;
    s.environment = {"MARK=hello", "PATH=/usr/bin:/bin", "TMPDIR=" + plan.tmp_dir};
    s.rlimit_data_bytes = limiter_->rlimit_bytes(128);
    s.wait_for_exec = false;
    s.sandbox = &plan;
    return s;
  }

  // Runs the process to its end and returns what it printed; checks its exec succeeded.
  static std::string finish(ChildProcess& child) {
    int report = child.release_exec_report_fd();
    int err = 0;
    EXPECT_EQ(::read(report, &err, sizeof err), 0) << "exec failed: " << std::strerror(err);
    ::close(report);
    int out = child.release_output_fd();
    std::string text;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(out, buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
    ::close(out);
    int status = 0;
    EXPECT_EQ(::waitpid(child.pid(), &status, 0), child.pid());
    child.mark_exited(status);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << text;
    return text;
  }

  static std::string without_line(std::string text, const std::string& prefix) {
    auto pos = text.find(prefix);
    if (pos == std::string::npos) return text;
    return text.erase(pos, text.find('\n', pos) + 1 - pos);
  }

  fs::path dir_;
  std::unique_ptr<ResourceLimiter> limiter_;
  std::unique_ptr<Sandbox> sandbox_;
};

TEST_F(PreforkPoolTest, SizeZeroStartsNothingAndClaimsNothing) {
  PreforkPool pool(*limiter_, 0);
  auto plan = sandbox_->plan(dir_ / "code", 512, dir_ / "tmp", {});
  EXPECT_FALSE(pool.claim(spec(plan), 128).has_value());
  EXPECT_EQ(pool.stats().ready, 0u);
  EXPECT_EQ(pool.stats().started, 0u);
  sandbox_->release(plan);
}

TEST_F(PreforkPoolTest, AClaimedProcessRunsLikeASpawnedOneWithTheFunctionsLimits) {
  PreforkPool pool(*limiter_, 1);
  ASSERT_TRUE(wait_until([&] { return pool.stats().ready == 1; }));

  auto plan = sandbox_->plan(dir_ / "code", 512, dir_ / "tmp", {});
  auto claimed = pool.claim(spec(plan), 256);
  ASSERT_TRUE(claimed.has_value());
  if (limiter_->mode() == LimitMode::CgroupV1) {
    // The function's limits are in place before its code runs, in the group it already sits in.
    EXPECT_EQ(read_file(claimed->cgroups.memory_dir / "memory.limit_in_bytes"),
              std::to_string(256ull * 1024 * 1024) + "\n");
    if (!claimed->cgroups.cpu_dir.empty()) {
      EXPECT_EQ(read_file(claimed->cgroups.cpu_dir / "cpu.cfs_quota_us"),
                std::to_string(static_cast<int>(256 / 1769.0 * 100000)) + "\n");
    }
  } else if (limiter_->mode() == LimitMode::CgroupV2) {
    EXPECT_EQ(read_file(claimed->cgroups.memory_dir / "memory.max"),
              std::to_string(256ull * 1024 * 1024) + "\n");
  }
  std::string pooled = finish(claimed->process);
  EXPECT_NE(pooled.find("env=hello"), std::string::npos) << pooled;
  if (limiter_->mode() != LimitMode::Rlimit) {
    // It ran inside the group it was claimed with.
    std::string group_line =
        std::string("/").append(claimed->cgroups.memory_dir.filename().string()).append("\n");
    EXPECT_NE(pooled.find(group_line), std::string::npos) << pooled;
  }
  limiter_->destroy(claimed->cgroups);
  sandbox_->release(plan);

  // The same function spawned the ordinary way: the same sandbox, line for line.
  auto plan2 = sandbox_->plan(dir_ / "code", 512, dir_ / "tmp", {});
  auto groups = limiter_->create("env-prefork-test", 256);
  SpawnSpec direct = spec(plan2);
  direct.cgroup_procs_files = limiter_->procs_files(groups);
  ChildProcess child = ChildProcess::spawn(direct);
  std::string spawned = finish(child);
  limiter_->destroy(groups);
  sandbox_->release(plan2);
  // Uids differ (each environment gets its own), and so do the groups' names.
  auto strip = [&](std::string text) {
    return without_line(without_line(without_line(std::move(text), "memory="), "Uid:"), "Gid:");
  };
  EXPECT_EQ(strip(pooled), strip(spawned));
  if (sandbox_->abilities().root && sandbox_->abilities().var_task) {
    EXPECT_NE(pooled.find("var_task=yes"), std::string::npos) << pooled;
    EXPECT_NE(pooled.find("NoNewPrivs:\t1"), std::string::npos) << pooled;
    EXPECT_NE(pooled.find("CapEff:\t0000000000000000"), std::string::npos) << pooled;
  }
}

TEST_F(PreforkPoolTest, APoolProcessThatDiesIsReplaced) {
  PreforkPool pool(*limiter_, 2);
  ASSERT_TRUE(wait_until([&] { return pool.stats().ready == 2; }));
  auto before = pool.ready_pids();
  ASSERT_EQ(before.size(), 2u);
  ASSERT_EQ(::kill(before[0], SIGKILL), 0);
  ASSERT_TRUE(wait_until([&] { return pool.stats().replaced == 1 && pool.stats().ready == 2; }));
  auto after = pool.ready_pids();
  EXPECT_EQ(std::count(after.begin(), after.end(), before[0]), 0);
  EXPECT_EQ(std::count(after.begin(), after.end(), before[1]), 1);
  EXPECT_FALSE(process_exists(before[0]));  // reaped, not a zombie
  EXPECT_EQ(pool.stats().started, 3u);
}

TEST_F(PreforkPoolTest, AClaimRefillsThePool) {
  PreforkPool pool(*limiter_, 1);
  ASSERT_TRUE(wait_until([&] { return pool.stats().ready == 1; }));
  auto plan = sandbox_->plan(dir_ / "code", 512, dir_ / "tmp", {});
  auto claimed = pool.claim(spec(plan), 128);
  ASSERT_TRUE(claimed.has_value());
  ASSERT_TRUE(wait_until([&] { return pool.stats().ready == 1; }));
  EXPECT_EQ(pool.stats().claimed, 1u);
  EXPECT_NE(pool.ready_pids().front(), claimed->process.pid());
  finish(claimed->process);
  limiter_->destroy(claimed->cgroups);
  sandbox_->release(plan);
}

TEST_F(PreforkPoolTest, DestroyingThePoolReapsEveryWaitingProcessAndItsGroups) {
  std::vector<pid_t> pids;
  std::vector<fs::path> group_dirs;
  {
    PreforkPool pool(*limiter_, 3);
    ASSERT_TRUE(wait_until([&] { return pool.stats().ready == 3; }));
    pids = pool.ready_pids();
    for (pid_t pid : pids) {
      // Where each waiting process sits, read from the host's cgroup filesystem.
      std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
      std::string line;
      while (std::getline(in, line)) {
        auto pos = line.find(":memory:");
        if (pos != std::string::npos)
          group_dirs.push_back("/sys/fs/cgroup/memory" + line.substr(pos + 8));
      }
    }
  }
  ASSERT_EQ(pids.size(), 3u);
  for (pid_t pid : pids) EXPECT_FALSE(process_exists(pid)) << pid;
  if (limiter_->mode() == LimitMode::CgroupV1) {
    ASSERT_EQ(group_dirs.size(), 3u);
    for (const auto& dir : group_dirs) EXPECT_FALSE(fs::exists(dir)) << dir;
  }
}

}  // namespace
}  // namespace stratus::emulator
