#include "stratus/common/aws_environment.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <string>

namespace stratus::aws {
namespace {

namespace fs = std::filesystem;

const char* const kVariables[] = {"HOME",
                                  "AWS_ACCESS_KEY_ID",
                                  "AWS_SECRET_ACCESS_KEY",
                                  "AWS_SESSION_TOKEN",
                                  "AWS_SECURITY_TOKEN",
                                  "AWS_PROFILE",
                                  "AWS_DEFAULT_PROFILE",
                                  "AWS_SHARED_CREDENTIALS_FILE",
                                  "AWS_CONFIG_FILE",
                                  "AWS_REGION",
                                  "AWS_DEFAULT_REGION",
                                  "AWS_ENDPOINT_URL",
                                  "AWS_ENDPOINT_URL_LAMBDA",
                                  "AWS_ENDPOINT_URL_S3",
                                  "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"};

// Every test starts from an environment without AWS variables and with HOME in a fresh temporary
// directory; the original environment comes back afterwards.
class AwsEnvironmentTest : public testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : kVariables) {
      const char* v = std::getenv(name);
      saved_[name] = v ? std::optional<std::string>(v) : std::nullopt;
      ::unsetenv(name);
    }
    home_ =
        fs::temp_directory_path() / ("stratus-aws-env-" + std::to_string(::getpid()) + "-" +
                                     testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(home_);
    fs::create_directories(home_ / ".aws");
    set("HOME", home_.string());
  }

  void TearDown() override {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
    fs::remove_all(home_);
  }

  static void set(const char* name, const std::string& value) { ::setenv(name, value.c_str(), 1); }

  void write(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << text;
  }
  fs::path credentials_path() const { return home_ / ".aws" / "credentials"; }
  fs::path config_path() const { return home_ / ".aws" / "config"; }

  std::string error_of(const std::function<void()>& f) {
    try {
      f();
    } catch (const ConfigurationError& e) {
      return e.what();
    }
    ADD_FAILURE() << "no ConfigurationError thrown";
    return {};
  }

  fs::path home_;
  std::map<std::string, std::optional<std::string>> saved_;
};

TEST(ParseIni, CommentsWhitespaceAndCase) {
  IniFile ini = parse_ini(
      "\xEF\xBB\xBF# leading comment\r\n"
      "; another\r\n"
      "  [ default ]   # trailing comment\r\n"
      "  AWS_Access_Key_ID   =   AKIDEXAMPLE   \r\n"
      "aws_secret_access_key=wJalr/K7MDENG+bPxRfiCY#notacomment ; comment\r\n"
      "\r\n"
      "[profile    dev]\n"
      "region = eu-west-1\n"
      "s3 =\n"
      "  addressing_style = path\n"
      "  max_concurrent_requests = 20\n"
      "output = json\n"
      "  indented_after_value = 1\n"
      "garbage line without equals\n"
      "[broken\n"
      "lost = yes\n"
      "[default]\n"
      "region = us-east-2\n");
  ASSERT_EQ(ini.count("default"), 1u);
  EXPECT_EQ(ini["default"]["aws_access_key_id"], "AKIDEXAMPLE");
  EXPECT_EQ(ini["default"]["aws_secret_access_key"], "wJalr/K7MDENG+bPxRfiCY#notacomment");
  EXPECT_EQ(ini["default"]["region"], "us-east-2");  // a repeated section merges
  ASSERT_EQ(ini.count("profile dev"), 1u);
  IniSection& dev = ini["profile dev"];
  EXPECT_EQ(dev["region"], "eu-west-1");
  EXPECT_EQ(dev["s3.addressing_style"], "path");
  EXPECT_EQ(dev["s3.max_concurrent_requests"], "20");
  EXPECT_EQ(dev["output"], "json");
  EXPECT_EQ(dev["indented_after_value"], "1");
  EXPECT_EQ(dev.count("garbage line without equals"), 0u);
  for (const auto& [name, section] : ini) EXPECT_EQ(section.count("lost"), 0u) << name;
}

TEST(ParseIni, EmptyAndKeysBeforeAnySection) {
  EXPECT_TRUE(parse_ini("").empty());
  EXPECT_TRUE(parse_ini("key = value\n# only comments\n").empty());
  IniFile later_wins = parse_ini("[a]\nk = 1\nk = 2\n");
  EXPECT_EQ(later_wins["a"]["k"], "2");
}

TEST_F(AwsEnvironmentTest, EnvironmentVariablesComeFirst) {
  write(credentials_path(),
        "[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = FILESECRET\n");
  set("AWS_ACCESS_KEY_ID", "ENVKEY");
  set("AWS_SECRET_ACCESS_KEY", "ENVSECRET");
  set("AWS_SESSION_TOKEN", "ENVTOKEN");
  Credentials c = resolve_credentials();
  EXPECT_EQ(c.access_key_id, "ENVKEY");
  EXPECT_EQ(c.secret_access_key, "ENVSECRET");
  EXPECT_EQ(c.session_token, "ENVTOKEN");
}

TEST_F(AwsEnvironmentTest, ExplicitProfileBeatsTheEnvironment) {
  write(credentials_path(), "[ci]\naws_access_key_id = CIKEY\naws_secret_access_key = CISECRET\n");
  set("AWS_ACCESS_KEY_ID", "ENVKEY");
  set("AWS_SECRET_ACCESS_KEY", "ENVSECRET");
  EXPECT_EQ(resolve_credentials("ci").access_key_id, "CIKEY");
}

TEST_F(AwsEnvironmentTest, IncompleteEnvironmentIsAnError) {
  set("AWS_ACCESS_KEY_ID", "ENVKEY");
  std::string message = error_of([] { resolve_credentials(); });
  EXPECT_NE(message.find("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"),
            std::string::npos)
      << message;
}

TEST_F(AwsEnvironmentTest, DefaultCredentialsFileUnderHome) {
  write(credentials_path(),
        "[default]\naws_access_key_id = AKID\naws_secret_access_key = SECRET\n"
        "aws_session_token = TOKEN\n");
  Credentials c = resolve_credentials();
  EXPECT_EQ(c.access_key_id, "AKID");
  EXPECT_EQ(c.secret_access_key, "SECRET");
  EXPECT_EQ(c.session_token, "TOKEN");
}

TEST_F(AwsEnvironmentTest, ProfileFromAwsProfile) {
  write(credentials_path(),
        "[default]\naws_access_key_id = DEFAULT\naws_secret_access_key = S1\n"
        "[trainer]\naws_access_key_id = TRAINER\naws_secret_access_key = S2\n");
  set("AWS_PROFILE", "trainer");
  EXPECT_EQ(resolve_credentials().access_key_id, "TRAINER");
  EXPECT_EQ(active_profile(), "trainer");
}

TEST_F(AwsEnvironmentTest, ConfigFileProfilesAreTheFallback) {
  write(credentials_path(), "[other]\naws_access_key_id = X\naws_secret_access_key = Y\n");
  write(config_path(),
        "[default]\naws_access_key_id = CFGDEFAULT\naws_secret_access_key = S\n"
        "[dev]\naws_access_key_id = NOT_A_PROFILE\naws_secret_access_key = S\n"
        "[profile dev]\naws_access_key_id = CFGDEV\naws_secret_access_key = S\n");
  EXPECT_EQ(resolve_credentials().access_key_id, "CFGDEFAULT");
  set("AWS_PROFILE", "dev");
  EXPECT_EQ(resolve_credentials().access_key_id, "CFGDEV");
}

TEST_F(AwsEnvironmentTest, FileLocationsFromTheEnvironment) {
  fs::path elsewhere = home_ / "elsewhere";
  write(elsewhere / "creds", "[default]\naws_access_key_id = MOVED\naws_secret_access_key = S\n");
  write(elsewhere / "conf", "[default]\nregion = ap-southeast-2\n");
  set("AWS_SHARED_CREDENTIALS_FILE", "~/elsewhere/creds");
  set("AWS_CONFIG_FILE", (elsewhere / "conf").string());
  EXPECT_EQ(shared_credentials_file(), (elsewhere / "creds").string());
  EXPECT_EQ(resolve_credentials().access_key_id, "MOVED");
  EXPECT_EQ(resolve_region(), "ap-southeast-2");
}

TEST_F(AwsEnvironmentTest, IncompleteProfileIsAnError) {
  write(credentials_path(), "[default]\naws_access_key_id = ONLYKEY\n");
  std::string message = error_of([] { resolve_credentials(); });
  EXPECT_NE(message.find(credentials_path().string()), std::string::npos) << message;
  EXPECT_NE(message.find("no aws_secret_access_key"), std::string::npos) << message;
}

TEST_F(AwsEnvironmentTest, NothingFoundNamesEverythingLookedAt) {
  write(config_path(), "[default]\nregion = us-east-1\n");
  set("AWS_PROFILE", "missing");
  std::string message = error_of([] { resolve_credentials(); });
  EXPECT_NE(message.find("'missing'"), std::string::npos) << message;
  EXPECT_NE(message.find("AWS_ACCESS_KEY_ID"), std::string::npos) << message;
  EXPECT_NE(message.find(credentials_path().string() + " (missing or unreadable)"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find(config_path().string() + " (no [profile missing]"), std::string::npos)
      << message;
}

TEST_F(AwsEnvironmentTest, RegionPrecedence) {
  write(config_path(), "[default]\nregion = eu-central-1\n[profile p]\nregion = us-west-2\n");
  EXPECT_EQ(resolve_region(), "eu-central-1");
  EXPECT_EQ(resolve_region("p"), "us-west-2");
  set("AWS_PROFILE", "p");
  EXPECT_EQ(resolve_region(), "us-west-2");
  set("AWS_DEFAULT_REGION", "ca-central-1");
  EXPECT_EQ(resolve_region(), "ca-central-1");
  set("AWS_REGION", "sa-east-1");
  EXPECT_EQ(resolve_region(), "sa-east-1");
}

TEST_F(AwsEnvironmentTest, MissingOrInvalidRegionIsAnError) {
  std::string message = error_of([] { resolve_region(); });
  EXPECT_NE(message.find("AWS_REGION"), std::string::npos) << message;
  EXPECT_NE(message.find(config_path().string()), std::string::npos) << message;
  set("AWS_REGION", "us-east-1/../evil");
  message = error_of([] { resolve_region(); });
  EXPECT_NE(message.find("invalid AWS region"), std::string::npos) << message;
}

TEST_F(AwsEnvironmentTest, DefaultEndpoints) {
  Endpoint lambda = resolve_endpoint("lambda", "eu-west-1");
  EXPECT_EQ(lambda.origin(), "https://lambda.eu-west-1.amazonaws.com:443");
  EXPECT_EQ(lambda.host_header(), "lambda.eu-west-1.amazonaws.com");
  EXPECT_EQ(resolve_endpoint("s3", "us-east-1").host, "s3.us-east-1.amazonaws.com");
  EXPECT_EQ(resolve_endpoint("lambda", "cn-north-1").host, "lambda.cn-north-1.amazonaws.com.cn");
  EXPECT_THROW(resolve_endpoint("lambda", "bad region"), ConfigurationError);
  EXPECT_THROW(resolve_endpoint("lam/bda", "us-east-1"), ConfigurationError);
}

TEST_F(AwsEnvironmentTest, EndpointOverrides) {
  set("AWS_ENDPOINT_URL", "http://127.0.0.1:4566");
  set("AWS_ENDPOINT_URL_LAMBDA", "http://127.0.0.1:9001/");
  Endpoint lambda = resolve_endpoint("lambda", "us-east-1");
  EXPECT_EQ(lambda.scheme, "http");
  EXPECT_EQ(lambda.port, "9001");
  EXPECT_EQ(resolve_endpoint("s3", "us-east-1").port, "4566");
  set("AWS_ENDPOINT_URL_S3", "http://localhost:9000");
  EXPECT_EQ(resolve_endpoint("s3", "us-east-1").host, "localhost");
  set("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE");
  EXPECT_EQ(resolve_endpoint("lambda", "us-east-1").host, "lambda.us-east-1.amazonaws.com");
}

TEST_F(AwsEnvironmentTest, MalformedEndpointUrlNamesTheVariable) {
  set("AWS_ENDPOINT_URL_LAMBDA", "127.0.0.1:9001");
  std::string message = error_of([] { resolve_endpoint("lambda", "us-east-1"); });
  EXPECT_NE(message.find("AWS_ENDPOINT_URL_LAMBDA"), std::string::npos) << message;
}

}  // namespace
}  // namespace stratus::aws
