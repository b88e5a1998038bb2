// The cgroup code paths against fake cgroup trees (temp directories laid out like /sys/fs/cgroup):
// this host is cgroup v1, so the v2 path's writes are checked here, file by file, and the config's
// cgroup_mode forces each path and the fallback.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "stratus/emulator/config.hpp"
#include "stratus/emulator/resource_limits.hpp"

using namespace stratus::emulator;
namespace fs = std::filesystem;

namespace {

std::string read(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class FakeCgroupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("stratus-cgroup-test-" + std::to_string(std::random_device{}()));
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  // /sys/fs/cgroup as a pure v2 host has it, with this process in /user.slice/session.
  fs::path make_v2() {
    fs::path cg = root_ / "v2";
    fs::create_directories(cg / "user.slice" / "session");
    std::ofstream(cg / "cgroup.controllers") << "cpuset cpu io memory pids\n";
    std::ofstream(root_ / "self-v2") << "0::/user.slice/session\n";
    return cg;
  }
  // A v1 host: one directory per controller, this process in /work in each.
  fs::path make_v1() {
    fs::path cg = root_ / "v1";
    for (const char* controller : {"memory", "cpu", "cpuacct"}) fs::create_directories(cg / controller / "work");
    std::ofstream(cg / "cpuacct" / "cpuacct.usage") << "0\n";
    std::ofstream(root_ / "self-v1") << "4:memory:/work\n2:cpuacct:/work\n1:cpu:/work\n";
    return cg;
  }

  fs::path root_;
  const std::string parent_ = "stratus-" + std::to_string(::getpid());
};

TEST_F(FakeCgroupTest, V2WritesLimitsAndDelegationFiles) {
  fs::path cg = make_v2();
  {
    auto limiter = ResourceLimiter::probe(true, CgroupMode::Auto, cg, root_ / "self-v2");
    ASSERT_EQ(limiter->mode(), LimitMode::CgroupV2) << limiter->describe();
    fs::path ours = cg / "user.slice" / "session";
    fs::path parent = ours / parent_;
    // The daemon moved itself into a leaf and delegated memory and cpu to its children.
    EXPECT_EQ(read(parent / "daemon" / "cgroup.procs"), std::to_string(::getpid()));
    EXPECT_EQ(read(ours / "cgroup.subtree_control"), "+memory +cpu");
    EXPECT_EQ(read(parent / "cgroup.subtree_control"), "+memory +cpu");
    EXPECT_NE(limiter->describe().find("cgroup v2 (memory.max"), std::string::npos) << limiter->describe();

    // 1769 MB is one vCPU: weight 100 (the default share), quota one period per period.
    EnvironmentCgroups groups = limiter->create("env-a", 1769);
    fs::path env = parent / "env-a";
    EXPECT_EQ(read(env / "memory.max"), std::to_string(1769ull * 1024 * 1024));
    EXPECT_EQ(read(env / "memory.swap.max"), "0");
    EXPECT_EQ(read(env / "cpu.weight"), "100");
    EXPECT_EQ(read(env / "cpu.max"), "100000 100000");
    ASSERT_EQ(limiter->procs_files(groups), std::vector<fs::path>{env / "cgroup.procs"});
    EXPECT_EQ(limiter->rlimit_bytes(1769), 0u);

    // 128 MB: a small share and quota, never below the kernel's minimums.
    EnvironmentCgroups small = limiter->create("env-b", 128);
    EXPECT_EQ(read(parent / "env-b" / "cpu.weight"), "7");
    EXPECT_EQ(read(parent / "env-b" / "cpu.max"), "7235 100000");

    // The per-invocation readings come from the v2 files.
    std::ofstream(env / "cpu.stat") << "usage_usec 12345\nuser_usec 10000\nsystem_usec 2345\n";
    std::ofstream(env / "memory.peak") << (300ull << 20) << "\n";
    limiter->open_probes(groups, ::getpid());
    EXPECT_DOUBLE_EQ(limiter->cpu_time_ms(groups, ::getpid()), 12.345);
    EXPECT_GE(limiter->memory_peak_bytes(groups, ::getpid()), 300ull << 20);
    // With the cgroup's counter, the process's VmHWM is read once (at the first reading) and the
    // counter on every one: a later peak comes from the counter.
    EXPECT_TRUE(groups.process_hwm_read);
    EXPECT_GT(groups.process_hwm_bytes, 0u);
    std::ofstream(env / "memory.peak") << (400ull << 20) << "\n";
    EXPECT_EQ(limiter->memory_peak_bytes(groups, ::getpid()),
              std::max<std::uint64_t>(400ull << 20, groups.process_hwm_bytes));
    // Without it (no memory accounting) the process's own high-water mark is the answer.
    EnvironmentCgroups no_memory;
    limiter->open_probes(no_memory, ::getpid());
    EXPECT_GT(limiter->memory_peak_bytes(no_memory, ::getpid()), 0u);
    EXPECT_FALSE(no_memory.process_hwm_read);
    limiter->destroy(no_memory);
    limiter->destroy(groups);
    limiter->destroy(small);
    EXPECT_TRUE(groups.dirs.empty());
  }
  // Going away, the daemon moved itself back into its own group.
  EXPECT_EQ(read(cg / "user.slice" / "session" / "cgroup.procs"), std::to_string(::getpid()));
}

TEST_F(FakeCgroupTest, V2WithoutQuotaWritesNoCpuMax) {
  fs::path cg = make_v2();
  auto limiter = ResourceLimiter::probe(false, CgroupMode::V2, cg, root_ / "self-v2");
  ASSERT_EQ(limiter->mode(), LimitMode::CgroupV2);
  EnvironmentCgroups groups = limiter->create("env-c", 3538);
  fs::path env = cg / "user.slice" / "session" / parent_ / "env-c";
  EXPECT_EQ(read(env / "cpu.weight"), "200");
  EXPECT_FALSE(fs::exists(env / "cpu.max"));
  limiter->destroy(groups);
}

TEST_F(FakeCgroupTest, V1WritesPerControllerLimits) {
  fs::path cg = make_v1();
  auto limiter = ResourceLimiter::probe(true, CgroupMode::Auto, cg, root_ / "self-v1");
  ASSERT_EQ(limiter->mode(), LimitMode::CgroupV1) << limiter->describe();
  EnvironmentCgroups groups = limiter->create("env-a", 1769);
  EXPECT_EQ(read(cg / "memory" / "work" / parent_ / "env-a" / "memory.limit_in_bytes"),
            std::to_string(1769ull * 1024 * 1024));
  fs::path cpu = cg / "cpu" / "work" / parent_ / "env-a";
  EXPECT_EQ(read(cpu / "cpu.shares"), "1024");
  EXPECT_EQ(read(cpu / "cpu.cfs_period_us"), "100000");
  EXPECT_EQ(read(cpu / "cpu.cfs_quota_us"), "100000");
  EXPECT_EQ(groups.cpu_usage_file, cg / "cpuacct" / "work" / parent_ / "env-a" / "cpuacct.usage");
  EXPECT_EQ(limiter->procs_files(groups).size(), 3u);
  limiter->destroy(groups);
}

TEST_F(FakeCgroupTest, ForcedModesUseOnlyTheirHierarchyAndFallBackToTheRlimitCap) {
  fs::path v2 = make_v2();
  fs::path v1 = make_v1();
  // v2 forced on a v1 host (this machine's case) and v1 forced on a v2 host: the cap, and why.
  auto on_v1 = ResourceLimiter::probe(true, CgroupMode::V2, v1, root_ / "self-v1");
  EXPECT_EQ(on_v1->mode(), LimitMode::Rlimit);
  EXPECT_NE(on_v1->describe().find("cgroup_mode is v2, but " + v1.string() + " is not a cgroup v2 hierarchy"),
            std::string::npos)
      << on_v1->describe();
  EXPECT_EQ(on_v1->rlimit_bytes(256), 256ull << 20);
  EXPECT_TRUE(on_v1->create("env-x", 256).dirs.empty());
  auto on_v2 = ResourceLimiter::probe(true, CgroupMode::V1, v2, root_ / "self-v2");
  EXPECT_EQ(on_v2->mode(), LimitMode::Rlimit);
  EXPECT_NE(on_v2->describe().find("is not a cgroup v1 hierarchy"), std::string::npos) << on_v2->describe();
  auto off = ResourceLimiter::probe(true, CgroupMode::Off, v2, root_ / "self-v2");
  EXPECT_EQ(off->mode(), LimitMode::Rlimit);
  EXPECT_NE(off->describe().find("cgroup_mode is off"), std::string::npos);
  EXPECT_FALSE(fs::exists(v2 / "user.slice" / "session" / parent_));  // nothing was created
  EXPECT_FALSE(fs::exists(v1 / "memory" / "work" / parent_));
}

TEST(CgroupModeConfig, ParsedAndValidated) {
  EmulatorConfig config;
  EXPECT_EQ(config.cgroup_mode, CgroupMode::Auto);
  for (auto [text, mode] : {std::pair{"v2", CgroupMode::V2}, std::pair{"v1", CgroupMode::V1},
                            std::pair{"off", CgroupMode::Off}, std::pair{"auto", CgroupMode::Auto}}) {
    apply_config_json(config, nlohmann::json{{"cgroup_mode", text}}, "/");
    EXPECT_EQ(config.cgroup_mode, mode) << text;
  }
  try {
    apply_config_json(config, nlohmann::json{{"cgroup_mode", "v3"}}, "/");
    ADD_FAILURE() << "accepted v3";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'cgroup_mode'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(apply_config_json(config, nlohmann::json{{"cgroup_mode", 2}}, "/"), ConfigError);
}

}  // namespace
