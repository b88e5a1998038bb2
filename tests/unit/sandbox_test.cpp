#include "stratus/emulator/sandbox.hpp"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "stratus/common/request_id.hpp"

using namespace stratus::emulator;
namespace fs = std::filesystem;

namespace {

struct Tree {
  fs::path root = fs::temp_directory_path() / ("stratus-sandbox-test-" + stratus::make_hex_id(8));
  Tree() {
    for (const char* dir : {"data/functions/mine/code-1", "data/functions/other/code-2",
                            "data/s3/bucket", "data/logs", "elsewhere/code"}) {
      fs::create_directories(root / dir);
    }
    std::ofstream(root / "data/functions/mine/function.json") << "{}";
    std::ofstream(root / "data/emulator.endpoint") << "http://127.0.0.1:1\n";
  }
  ~Tree() { fs::remove_all(root); }
};

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

TEST(SandboxHiddenPaths, TheWholeDataDirWhenTheCodeIsMountedElsewhere) {
  Tree t;
  std::vector<std::string> dirs, files;
  plan_hidden_paths(
      {t.root / "data", t.root / "data/functions/other/code-2", t.root / "elsewhere/code"}, {},
      dirs, files);
  EXPECT_EQ(sorted(dirs),
            sorted({(t.root / "data").string(), (t.root / "elsewhere/code").string()}));
  EXPECT_TRUE(files.empty());
}

TEST(SandboxHiddenPaths, EverythingButThePathToTheOwnCode) {
  Tree t;
  std::vector<std::string> dirs, files;
  fs::path mine = t.root / "data/functions/mine/code-1";
  plan_hidden_paths({t.root / "data", t.root / "data/functions/other/code-2"}, {mine}, dirs, files);
  EXPECT_EQ(sorted(dirs), sorted({(t.root / "data/functions/other").string(),
                                  (t.root / "data/s3").string(), (t.root / "data/logs").string()}));
  EXPECT_EQ(sorted(files), sorted({(t.root / "data/functions/mine/function.json").string(),
                                   (t.root / "data/emulator.endpoint").string()}));
}

TEST(SandboxHiddenPaths, SystemDirectoriesAndMissingPathsAreNeverCovered) {
  std::vector<std::string> dirs, files;
  plan_hidden_paths({"/", "/usr", "/var", "/tmp", "/nonexistent-stratus-path"}, {}, dirs, files);
  EXPECT_TRUE(dirs.empty()) << dirs.front();
  EXPECT_TRUE(files.empty());
}
