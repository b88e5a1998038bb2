// A function's settings pass the same checks whether CreateFunction or the config file declares
// them; the config error names the function and the field.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "stratus/emulator/config.hpp"
#include "stratus/emulator/lambda/function_config_validation.hpp"

using namespace stratus::emulator;
using nlohmann::json;

namespace {

std::string config_error_of(const json& function) {
  EmulatorConfig config;
  try {
    apply_config_json(config, json{{"functions", json::array({function})}}, "/base");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

json function_with(const char* key, json value) {
  json f = {{"name", "echo"}, {"code_dir", "fn"}, {"handler", "echo"}};
  f[key] = std::move(value);
  return f;
}

}  // namespace

TEST(FunctionConfigValidation, AcceptsWhatLambdaAccepts) {
  EXPECT_FALSE(check_function_settings("h", "d", {{"A_1", "x"}, {"b", ""}}));
  EXPECT_FALSE(check_function_settings(std::string(128, 'h'), std::string(256, 'd'), {}));
}

TEST(FunctionConfigValidation, RefusesWhatLambdaRefuses) {
  auto reserved = check_function_settings("h", "", {{"AWS_REGION", "x"}});
  ASSERT_TRUE(reserved);
  EXPECT_EQ(reserved->field, "Environment");
  EXPECT_NE(reserved->message.find("Reserved keys used in this request: AWS_REGION"), std::string::npos);

  auto bad_name = check_function_settings("h", "", {{"1abc", "x"}});
  ASSERT_TRUE(bad_name);
  EXPECT_EQ(bad_name->message, "Environment variable name '1abc' is not valid");

  auto too_big = check_function_settings("h", "", {{"A", std::string(4096, 'x')}});
  ASSERT_TRUE(too_big);
  EXPECT_NE(too_big->message.find("exceeded the 4KB limit"), std::string::npos);

  auto handler = check_function_settings(std::string(129, 'h'), "", {});
  ASSERT_TRUE(handler);
  EXPECT_EQ(handler->field, "Handler");

  auto description = check_function_settings("h", std::string(257, 'd'), {});
  ASSERT_TRUE(description);
  EXPECT_EQ(description->field, "Description");
}

TEST(FunctionConfigValidation, TheConfigFileGoesThroughTheSameChecks) {
  EXPECT_EQ(config_error_of(function_with("environment", {{"OK", "1"}})), "");

  std::string reserved = config_error_of(function_with("environment", {{"AWS_LAMBDA_RUNTIME_API", "x"}}));
  EXPECT_NE(reserved.find("functions[0].environment"), std::string::npos) << reserved;
  EXPECT_NE(reserved.find("function 'echo'"), std::string::npos) << reserved;
  EXPECT_NE(reserved.find("AWS_LAMBDA_RUNTIME_API"), std::string::npos) << reserved;

  std::string bad_name = config_error_of(function_with("environment", {{"has-dash", "x"}}));
  EXPECT_NE(bad_name.find("functions[0].environment"), std::string::npos) << bad_name;

  std::string handler = config_error_of(function_with("handler", std::string(129, 'h')));
  EXPECT_NE(handler.find("functions[0].handler"), std::string::npos) << handler;
  EXPECT_NE(handler.find("at most 128"), std::string::npos) << handler;

  std::string description = config_error_of(function_with("description", std::string(300, 'd')));
  EXPECT_NE(description.find("functions[0].description"), std::string::npos) << description;
}
