// Where a bare stratus-emulator keeps its data and finds its functions, and what it prints.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "stratus/emulator/config.hpp"
#include "stratus/emulator/default_paths.hpp"
#include "stratus/emulator/startup_hint.hpp"

using namespace stratus::emulator;
namespace fs = std::filesystem;

TEST(DefaultPaths, DataDirFollowsXdgStateHomeThenHome) {
  EXPECT_EQ(default_data_dir("/xdg/state", "/home/u"), fs::path("/xdg/state/stratus"));
  EXPECT_EQ(default_data_dir(nullptr, "/home/u"), fs::path("/home/u/.local/state/stratus"));
  EXPECT_EQ(default_data_dir("", "/home/u"), fs::path("/home/u/.local/state/stratus"));
  // The XDG spec: a relative XDG_STATE_HOME is invalid and ignored.
  EXPECT_EQ(default_data_dir("relative/state", "/home/u"), fs::path("/home/u/.local/state/stratus"));
  EXPECT_EQ(default_data_dir(nullptr, nullptr), fs::path("stratus-data"));
  EXPECT_EQ(default_data_dir(nullptr, ""), fs::path("stratus-data"));
}

TEST(DefaultPaths, DefaultConfigSitsInShareBesideTheBinDirectory) {
  EXPECT_EQ(default_config_path("/opt/stratus/bin/stratus-emulator"),
            fs::path("/opt/stratus/share/stratus/emulator.json"));
  EXPECT_EQ(default_config_path("/w/build/release/bin/stratus-emulator"),
            fs::path("/w/build/release/share/stratus/emulator.json"));
  fs::path root = fs::temp_directory_path() / ("stratus-defaults-" + std::to_string(std::random_device{}()));
  fs::create_directories(root / "bin");
  EXPECT_FALSE(find_default_config(root / "bin" / "stratus-emulator").has_value());
  fs::create_directories(root / "share" / "stratus");
  std::ofstream(root / "share" / "stratus" / "emulator.json") << "{}";
  auto found = find_default_config(root / "bin" / "stratus-emulator");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(*found, root / "share" / "stratus" / "emulator.json");
  fs::remove_all(root);
}

TEST(DefaultPaths, OwnExecutableIsThisTestBinary) {
  fs::path self = own_executable("ignored");
  EXPECT_TRUE(self.is_absolute());
  EXPECT_EQ(self.filename(), "stratus_unit_tests");
}

// The generated default config (build/<preset>/share/stratus/emulator.json) is a valid config
// whose product functions point at the built bootstrap.
TEST(DefaultPaths, TheBuildTreesDefaultConfigLoadsTheProductFunctions) {
  fs::path config_file = default_config_path(own_executable(""));
  ASSERT_TRUE(fs::exists(config_file)) << config_file << " (the build writes it)";
  EmulatorConfig config = load_config_file(config_file);
  ASSERT_GE(config.functions.size(), 8u);
  bool echo = false;
  for (const auto& f : config.functions) {
    EXPECT_TRUE(fs::exists(f.code_dir / "bootstrap")) << f.name << ": " << f.code_dir;
    echo |= f.name == "echo" && f.handler == "echo";
    if (f.name == "model_averaging") {
      EXPECT_EQ(f.recursive_loop, "Allow");
    }
  }
  EXPECT_TRUE(echo);
  EXPECT_EQ(config.data_dir, EmulatorConfig{}.data_dir);  // the default config leaves data_dir alone
}

TEST(StartupHint, SaysWhereAndHowToReachIt) {
  auto lines = startup_hint("http://127.0.0.1:9001", 8);
  ASSERT_GE(lines.size(), 2u);
  EXPECT_NE(lines[0].find("serving 8 functions at http://127.0.0.1:9001"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("aws --endpoint-url http://127.0.0.1:9001 lambda list-functions"), std::string::npos);
  auto empty = startup_hint("http://127.0.0.1:1", 0);
  EXPECT_NE(empty.back().find("--template"), std::string::npos);
}
