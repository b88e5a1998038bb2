#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "stratus/emulator/config.hpp"

using namespace stratus::emulator;
using nlohmann::json;

namespace {
std::string error_of(const json& doc) {
  EmulatorConfig config;
  try {
    apply_config_json(config, doc, "/base");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Config, DefaultsAndOverrides) {
  EmulatorConfig config;
  apply_config_json(config,
                    json{{"listen", {{"port", 0}}},
                         {"data_dir", "state"},
                         {"idle_keepalive_s", 1.5},
                         {"functions", {{{"name", "echo"}, {"code_dir", "fn"}, {"handler", "echo"}}}}},
                    "/base");
  EXPECT_EQ(config.address, "127.0.0.1");
  EXPECT_EQ(config.port, 0);
  EXPECT_EQ(config.data_dir, "/base/state");
  EXPECT_DOUBLE_EQ(config.idle_keepalive_s, 1.5);
  ASSERT_EQ(config.functions.size(), 1u);
  EXPECT_EQ(config.functions[0].code_dir, "/base/fn");
  EXPECT_EQ(config.functions[0].memory_mb, 128);
  EXPECT_EQ(config.functions[0].timeout_s, 3);
  EXPECT_FALSE(config.functions[0].reserved_concurrency.has_value());
}

TEST(Config, ErrorsNameTheField) {
  EXPECT_NE(error_of(json{{"listen", {{"port", 70000}}}}).find("listen.port"), std::string::npos);
  EXPECT_NE(error_of(json{{"listen", {{"port", "x"}}}}).find("must be an integer"), std::string::npos);
  EXPECT_NE(error_of(json{{"idle_keepalive_s", -1}}).find("idle_keepalive_s"), std::string::npos);
  EXPECT_NE(error_of(json{{"typo_field", 1}}).find("typo_field': unknown field"), std::string::npos);
  EXPECT_NE(error_of(json{{"functions", {{{"name", "bad name"}, {"code_dir", "x"}, {"handler", "h"}}}}})
                .find("functions[0].name"),
            std::string::npos);
  EXPECT_NE(error_of(json{{"functions", {{{"name", "f"}, {"code_dir", "x"}, {"handler", "h"}, {"memory_mb", 64}}}}})
                .find("functions[0].memory_mb': must be between 128 and 10240"),
            std::string::npos);
  EXPECT_NE(error_of(json{{"functions", {{{"name", "f"}, {"handler", "h"}}}}}).find("code_dir"), std::string::npos);
  EXPECT_NE(error_of(json{{"functions",
                           {{{"name", "f"}, {"code_dir", "x"}, {"handler", "h"}},
                            {{"name", "f"}, {"code_dir", "y"}, {"handler", "h"}}}}})
                .find("duplicate"),
            std::string::npos);
  EXPECT_NE(error_of(json::array()).find("must be a JSON object"), std::string::npos);
  EXPECT_NE(error_of(json{{"account_concurrency", 50}}).find("account_concurrency"), std::string::npos);
}

TEST(Config, FunctionNames) {
  EXPECT_TRUE(is_valid_function_name("my-function_1"));
  EXPECT_FALSE(is_valid_function_name(""));
  EXPECT_FALSE(is_valid_function_name(std::string(65, 'a')));
  EXPECT_FALSE(is_valid_function_name("a/b"));
  EXPECT_FALSE(is_valid_function_name("a:b"));
}

TEST(Config, JournalSandboxAndEphemeralStorage) {
  EmulatorConfig config;
  EXPECT_TRUE(config.async_journal);
  EXPECT_TRUE(config.sandbox.mount_namespace);
  apply_config_json(config,
                    json{{"async", {{"journal", false}}},
                         {"sandbox", {{"user", "nobody"}, {"uid_range_start", 70000}, {"mount_namespace", false}}},
                         {"functions", {{{"name", "f"}, {"code_dir", "fn"}, {"handler", "h"},
                                         {"ephemeral_storage_mb", 10240}}}}},
                    "/base");
  EXPECT_FALSE(config.async_journal);
  EXPECT_EQ(config.sandbox.user, "nobody");
  EXPECT_EQ(config.sandbox.uid_range_start, 70000);
  EXPECT_FALSE(config.sandbox.mount_namespace);
  EXPECT_EQ(config.functions[0].ephemeral_storage_mb, 10240);

  json f = {{"name", "f"}, {"code_dir", "fn"}, {"handler", "h"}, {"ephemeral_storage_mb", 511}};
  EXPECT_NE(error_of(json{{"functions", {f}}}).find("functions[0].ephemeral_storage_mb"), std::string::npos);
  f = {{"name", "f"}, {"code_dir", "fn"}, {"handler", "h"}, {"provisioned", 3}, {"reserved_concurrency", 2}};
  EXPECT_NE(error_of(json{{"functions", {f}}}).find("functions[0].provisioned"), std::string::npos);
  EXPECT_NE(error_of(json{{"async", {{"journal", "yes"}}}}).find("async.journal"), std::string::npos);
  EXPECT_NE(error_of(json{{"sandbox", {{"uid_range_start", 0}}}}).find("sandbox.uid_range_start"),
            std::string::npos);
  EXPECT_NE(error_of(json{{"sandbox", {{"users", "x"}}}}).find("sandbox.users"), std::string::npos);
}
