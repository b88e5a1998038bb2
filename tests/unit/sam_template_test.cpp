// SAM / CloudFormation templates (`stratus-emulator --template`): every served property, the
// Globals merge, the intrinsics that resolve and those that cannot, and hostile or malformed YAML;
// every error names the resource and the property.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "stratus/emulator/sam_template.hpp"

using namespace stratus::emulator;
namespace fs = std::filesystem;

namespace {

class SamTemplateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("stratus-sam-test-" + std::to_string(std::random_device{}()));
    fs::create_directories(root_ / "code");
    write_executable(root_ / "code" / "bootstrap", "#!/bin/sh\nexit 0\n");
    options_.code_dir = root_ / "data" / "template-code";
    options_.region = "eu-west-1";
    options_.account_id = "123456789012";
  }
  void TearDown() override { fs::remove_all(root_); }

  static void write_executable(const fs::path& file, const std::string& text) {
    std::ofstream(file) << text;
    fs::permissions(file, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
  }

  TemplateFunctions load(const std::string& yaml) { return functions_from_template(yaml, root_, options_); }

  // The TemplateError's message (the test fails when the template loads).
  std::string error_of(const std::string& yaml) {
    try {
      load(yaml);
    } catch (const TemplateError& e) {
      return e.what();
    }
    ADD_FAILURE() << "template loaded:\n" << yaml;
    return {};
  }

  // A template with one serverless function `Fn` whose properties are `props` (indented 6).
  static std::string one_function(const std::string& props, const std::string& head = "") {
    return head + "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
                  "      CodeUri: code\n      Handler: echo\n      Runtime: provided.al2023\n" + props;
  }

  fs::path root_;
  TemplateOptions options_;
};

#define EXPECT_ERROR(yaml, ...)                                         \
  do {                                                                  \
    std::string message_ = error_of(yaml);                              \
    for (const char* part_ : {__VA_ARGS__}) {                           \
      EXPECT_NE(message_.find(part_), std::string::npos)                \
          << "'" << part_ << "' not in: " << message_;                  \
    }                                                                   \
  } while (0)

TEST_F(SamTemplateTest, EveryServedPropertyOfAServerlessFunction) {
  auto loaded = load(one_function(
      "      FunctionName: my-echo\n"
      "      MemorySize: 256\n"
      "      Timeout: 30\n"
      "      Description: says it back\n"
      "      Architectures: [arm64]\n"
      "      Environment:\n        Variables:\n          LEVEL: debug\n          COUNT: 3\n"
      "      ReservedConcurrentExecutions: 5\n"
      "      ProvisionedConcurrencyConfig:\n        ProvisionedConcurrentExecutions: 2\n"
      "      EphemeralStorage:\n        Size: 1024\n"
      "      RecursiveLoop: Allow\n"));
  ASSERT_EQ(loaded.functions.size(), 1u);
  const FunctionSpec& f = loaded.functions[0];
  EXPECT_EQ(f.name, "my-echo");
  EXPECT_EQ(f.handler, "echo");
  EXPECT_EQ(f.runtime, "provided.al2023");
  EXPECT_EQ(f.memory_mb, 256);
  EXPECT_EQ(f.timeout_s, 30);
  EXPECT_EQ(f.description, "says it back");
  EXPECT_EQ(f.architecture, "arm64");
  EXPECT_EQ(f.environment, (std::map<std::string, std::string>{{"LEVEL", "debug"}, {"COUNT", "3"}}));
  ASSERT_TRUE(f.reserved_concurrency.has_value());
  EXPECT_EQ(*f.reserved_concurrency, 5);
  EXPECT_EQ(f.provisioned, 2);
  EXPECT_EQ(f.ephemeral_storage_mb, 1024);
  EXPECT_EQ(f.recursive_loop, "Allow");
  EXPECT_EQ(f.code_dir, fs::canonical(root_ / "code"));
}

TEST_F(SamTemplateTest, DefaultsAreLambdasAndTheNameIsTheLogicalId) {
  auto loaded = load(one_function(""));
  ASSERT_EQ(loaded.functions.size(), 1u);
  const FunctionSpec& f = loaded.functions[0];
  EXPECT_EQ(f.name, "Fn");
  EXPECT_EQ(f.memory_mb, 128);
  EXPECT_EQ(f.timeout_s, 3);
  EXPECT_EQ(f.ephemeral_storage_mb, 512);
  EXPECT_FALSE(f.reserved_concurrency.has_value());
  EXPECT_EQ(f.provisioned, 0);
  EXPECT_EQ(f.architecture, "x86_64");
}

TEST_F(SamTemplateTest, LambdaFunctionResourceWithCodeAndOtherResourcesIgnored) {
  auto loaded = load(
      "AWSTemplateFormatVersion: '2010-09-09'\n"
      "Resources:\n"
      "  Bucket:\n    Type: AWS::S3::Bucket\n"
      "  Plain:\n    Type: AWS::Lambda::Function\n    Properties:\n"
      "      Code: code\n      Handler: h\n      Runtime: provided.al2\n      MemorySize: 512\n"
      "      ReservedConcurrentExecutions: 0\n"
      "      EphemeralStorage: {Size: 2048}\n"
      "      Environment: {Variables: {A: b}}\n"
      "      Role: arn:aws:iam::123456789012:role/x\n");
  ASSERT_EQ(loaded.functions.size(), 1u);
  EXPECT_EQ(loaded.functions[0].name, "Plain");
  EXPECT_EQ(loaded.functions[0].runtime, "provided.al2");
  EXPECT_EQ(loaded.functions[0].memory_mb, 512);
  EXPECT_EQ(*loaded.functions[0].reserved_concurrency, 0);
  EXPECT_EQ(loaded.functions[0].ephemeral_storage_mb, 2048);
  EXPECT_EQ(loaded.functions[0].environment.at("A"), "b");
  bool bucket_noted = false;
  bool role_noted = false;
  for (const auto& note : loaded.notes) {
    bucket_noted |= note.find("'Bucket' (AWS::S3::Bucket) ignored") != std::string::npos;
    role_noted |= note.find("ignored Role") != std::string::npos;
  }
  EXPECT_TRUE(bucket_noted);
  EXPECT_TRUE(role_noted);
  EXPECT_ERROR("Resources:\n  Plain:\n    Type: AWS::Lambda::Function\n    Properties:\n"
               "      Code: code\n      Handler: h\n      Runtime: provided\n"
               "      ProvisionedConcurrencyConfig: {ProvisionedConcurrentExecutions: 1}\n",
               "'Plain'", "'ProvisionedConcurrencyConfig'", "version or alias");
  EXPECT_ERROR("Resources:\n  Plain:\n    Type: AWS::Lambda::Function\n    Properties:\n"
               "      Handler: h\n      Runtime: provided\n",
               "'Plain'", "'Code'", "required");
  EXPECT_ERROR("Resources:\n  Plain:\n    Type: AWS::Lambda::Function\n    Properties:\n"
               "      CodeUri: code\n      Handler: h\n      Runtime: provided\n",
               "'Plain'", "'CodeUri'", "use Code");
}

TEST_F(SamTemplateTest, GlobalsMergeAsSamDoes) {
  auto loaded = load(
      "Globals:\n  Function:\n    Runtime: provided.al2023\n    Timeout: 20\n    MemorySize: 512\n"
      "    CodeUri: code\n    Handler: global-handler\n"
      "    Environment:\n      Variables:\n        TABLE: data\n        LEVEL: info\n"
      "    EphemeralStorage: {Size: 1024}\n"
      "  Api:\n    Cors: '*'\n"
      "Resources:\n"
      "  First:\n    Type: AWS::Serverless::Function\n    Properties:\n"
      "      Handler: first\n      MemorySize: 1024\n"
      "      Environment:\n        Variables:\n          LEVEL: debug\n          OWN: yes\n"
      "  Second:\n    Type: AWS::Serverless::Function\n"
      "  Raw:\n    Type: AWS::Lambda::Function\n    Properties:\n"
      "      Code: code\n      Handler: raw\n      Runtime: provided\n");
  ASSERT_EQ(loaded.functions.size(), 3u);
  const FunctionSpec& first = loaded.functions[0];
  EXPECT_EQ(first.handler, "first");      // the resource's scalar wins
  EXPECT_EQ(first.memory_mb, 1024);
  EXPECT_EQ(first.timeout_s, 20);         // inherited
  EXPECT_EQ(first.ephemeral_storage_mb, 1024);
  EXPECT_EQ(first.environment,            // maps merge, the resource's key wins
            (std::map<std::string, std::string>{{"TABLE", "data"}, {"LEVEL", "debug"}, {"OWN", "yes"}}));
  const FunctionSpec& second = loaded.functions[1];  // no Properties at all: all from Globals
  EXPECT_EQ(second.handler, "global-handler");
  EXPECT_EQ(second.memory_mb, 512);
  EXPECT_EQ(second.environment.size(), 2u);
  const FunctionSpec& raw = loaded.functions[2];     // Globals are SAM's: not for AWS::Lambda::Function
  EXPECT_EQ(raw.timeout_s, 3);
  EXPECT_EQ(raw.memory_mb, 128);
  EXPECT_TRUE(raw.environment.empty());
}

TEST_F(SamTemplateTest, GlobalListsComeBeforeTheResourcesSoTwoArchitecturesAreRefused) {
  EXPECT_ERROR("Globals:\n  Function:\n    Architectures: [x86_64]\n" +
                   one_function("      Architectures: [arm64]\n"),
               "'Fn'", "'Architectures'", "exactly one");
  auto loaded = load("Globals:\n  Function:\n    Architectures: [arm64]\n" + one_function(""));
  EXPECT_EQ(loaded.functions[0].architecture, "arm64");
}

TEST_F(SamTemplateTest, RefAndSubOfParametersAndPseudoParametersResolve) {
  auto loaded = load(one_function(
      "      MemorySize: !Ref Memory\n"
      "      Environment:\n        Variables:\n"
      "          REGION: !Ref AWS::Region\n"
      "          ARN: !Sub 'arn:${AWS::Partition}:s3:::${Bucket}-${AWS::AccountId}'\n"
      "          LITERAL: !Sub '${!NotAVariable}'\n"
      "          LONG: {'Fn::Sub': '${Bucket}/x'}\n"
      "          LONGREF: {Ref: Bucket}\n",
      "Parameters:\n  Memory:\n    Type: Number\n    Default: 640\n"
      "  Bucket:\n    Type: String\n    Default: data\n"));
  const FunctionSpec& f = loaded.functions[0];
  EXPECT_EQ(f.memory_mb, 640);
  EXPECT_EQ(f.environment.at("REGION"), "eu-west-1");
  EXPECT_EQ(f.environment.at("ARN"), "arn:aws:s3:::data-123456789012");
  EXPECT_EQ(f.environment.at("LITERAL"), "${NotAVariable}");
  EXPECT_EQ(f.environment.at("LONG"), "data/x");
  EXPECT_EQ(f.environment.at("LONGREF"), "data");
}

TEST_F(SamTemplateTest, IntrinsicsThatCannotBeResolvedNameResourceAndProperty) {
  EXPECT_ERROR(one_function("      Environment:\n        Variables:\n          Q: !GetAtt Queue.Arn\n"),
               "'Fn'", "'Environment.Variables.Q'", "!GetAtt", "cannot be resolved");
  EXPECT_ERROR(one_function("      Timeout: !Ref NoSuchParameter\n"), "'Fn'", "'Timeout'", "NoSuchParameter");
  EXPECT_ERROR(one_function("      Timeout: !Ref Undefaulted\n", "Parameters:\n  Undefaulted:\n    Type: Number\n"),
               "'Fn'", "'Timeout'", "Undefaulted");
  EXPECT_ERROR(one_function("      Description: !Sub '${Queue.Arn}'\n"), "'Description'", "attribute of a resource");
  EXPECT_ERROR(one_function("      Description: !Sub ['${X}', {X: y}]\n"), "'Description'", "one-string form");
  EXPECT_ERROR(one_function("      Description: !Join ['', [a, b]]\n"), "'Description'", "!Join");
  EXPECT_ERROR(one_function("      Description: {'Fn::GetAtt': [Queue, Arn]}\n"), "'Description'", "Fn::GetAtt");
  EXPECT_ERROR(one_function("      Environment: !If [IsProd, {Variables: {A: b}}, {Variables: {}}]\n"),
               "'Environment'", "!If");
  EXPECT_ERROR(one_function("      MemorySize: !Sub '${Unclosed'\n"), "'MemorySize'", "unclosed");
}

TEST_F(SamTemplateTest, BadValuesNameResourceAndProperty) {
  EXPECT_ERROR(one_function("      MemorySize: 64\n"), "'Fn'", "'MemorySize'", "between 128 and 10240, got 64");
  EXPECT_ERROR(one_function("      MemorySize: lots\n"), "'Fn'", "'MemorySize'", "must be an integer, got 'lots'");
  EXPECT_ERROR(one_function("      MemorySize: 1.5\n"), "'MemorySize'", "integer");
  EXPECT_ERROR(one_function("      MemorySize: 99999999999999999999999\n"), "'MemorySize'", "integer");
  EXPECT_ERROR(one_function("      Timeout: 901\n"), "'Fn'", "'Timeout'", "between 1 and 900");
  EXPECT_ERROR(one_function("      Timeout: [1]\n"), "'Timeout'", "single value");
  EXPECT_ERROR(one_function("      EphemeralStorage: {Size: 100}\n"), "'Fn'", "'EphemeralStorage.Size'", "between 512");
  EXPECT_ERROR(one_function("      EphemeralStorage: {Bytes: 100}\n"), "'EphemeralStorage.Bytes'", "unknown");
  EXPECT_ERROR(one_function("      EphemeralStorage: 1024\n"), "'EphemeralStorage'", "must be a map");
  EXPECT_ERROR(one_function("      ReservedConcurrentExecutions: -1\n"), "'Fn'", "'ReservedConcurrentExecutions'");
  EXPECT_ERROR(one_function("      ReservedConcurrentExecutions: 1\n"
                            "      ProvisionedConcurrencyConfig: {ProvisionedConcurrentExecutions: 2}\n"),
               "'Fn'", "'ProvisionedConcurrencyConfig.ProvisionedConcurrentExecutions'", "cannot exceed");
  EXPECT_ERROR(one_function("      ProvisionedConcurrencyConfig: {}\n"),
               "'ProvisionedConcurrencyConfig.ProvisionedConcurrentExecutions'", "required");
  EXPECT_ERROR(one_function("      Environment: {Variables: [A, B]}\n"), "'Environment.Variables'", "map");
  EXPECT_ERROR(one_function("      Environment: {Vars: {A: b}}\n"), "'Environment.Vars'", "unknown");
  EXPECT_ERROR(one_function("      Environment:\n        Variables:\n          A: {nested: map}\n"),
               "'Environment.Variables.A'", "single value");
  EXPECT_ERROR(one_function("      RecursiveLoop: Sometimes\n"), "'Fn'", "'RecursiveLoop'", "Terminate");
  EXPECT_ERROR(one_function("      Architectures: [sparc]\n"), "'Fn'", "'Architectures'", "x86_64");
  EXPECT_ERROR(one_function("      Architectures: x86_64\n"), "'Architectures'", "list of exactly one");
  EXPECT_ERROR(one_function("      FunctionName: 'has spaces'\n"), "'Fn'", "'FunctionName'", "not a Lambda function name");
  EXPECT_ERROR("Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
               "      CodeUri: code\n      Runtime: provided.al2023\n",
               "'Fn'", "'Handler'", "required");
}

TEST_F(SamTemplateTest, WhatCannotBeServedIsRefusedByName) {
  EXPECT_ERROR("Resources:\n  Py:\n    Type: AWS::Serverless::Function\n    Properties:\n"
               "      CodeUri: code\n      Handler: app.handler\n      Runtime: python3.12\n",
               "'Py' (AWS::Serverless::Function)", "'Runtime'", "python3.12", "custom runtimes");
  EXPECT_ERROR("Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
               "      CodeUri: code\n      Handler: h\n",
               "'Fn'", "'Runtime'", "required");
  EXPECT_ERROR(one_function("      Layers: [arn:aws:lambda:us-east-1:123456789012:layer:x:1]\n"), "'Fn'", "'Layers'");
  EXPECT_ERROR(one_function("      PackageType: Image\n"), "'Fn'", "'PackageType'", "Zip");
  EXPECT_ERROR(one_function("      ImageUri: repo/image:latest\n"), "'Fn'", "'ImageUri'", "container images");
  EXPECT_ERROR(one_function("      InlineCode: 'exit 0'\n"), "'InlineCode'");
  EXPECT_ERROR("Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
               "      CodeUri: s3://bucket/code.zip\n      Handler: h\n      Runtime: provided\n",
               "'Fn'", "'CodeUri'", "S3 code locations");
  EXPECT_ERROR("Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
               "      CodeUri: {Bucket: b, Key: k}\n      Handler: h\n      Runtime: provided\n",
               "'Fn'", "'CodeUri'", "S3 code locations");
  EXPECT_ERROR("Resources:\n  Fn:\n    Type: AWS::Lambda::Function\n    Properties:\n"
               "      Code: {ZipFile: 'echo hi'}\n      Handler: h\n      Runtime: provided\n",
               "'Fn'", "'Code'", "inline code");
  EXPECT_ERROR("Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Condition: IsProd\n"
               "    Properties:\n      CodeUri: code\n      Handler: h\n      Runtime: provided\n",
               "'Fn'", "'Condition'");
  EXPECT_ERROR("Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
               "      CodeUri: missing-dir\n      Handler: h\n      Runtime: provided\n",
               "'Fn'", "'CodeUri'", "neither a directory nor a zip");
  fs::create_directories(root_ / "empty");
  EXPECT_ERROR("Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
               "      CodeUri: empty\n      Handler: h\n      Runtime: provided\n",
               "'Fn'", "'CodeUri'", "no executable 'bootstrap'");
}

TEST_F(SamTemplateTest, ZipCodeUriIsUnpackedUnderTheCodeDirAndReplacedOnTheNextLoad) {
  ASSERT_EQ(std::system(("cd '" + (root_ / "code").string() + "' && zip -q -X ../fn.zip bootstrap").c_str()), 0);
  auto loaded = load("Resources:\n  Zipped:\n    Type: AWS::Serverless::Function\n    Properties:\n"
                     "      CodeUri: fn.zip\n      Handler: h\n      Runtime: provided.al2023\n");
  ASSERT_EQ(loaded.functions.size(), 1u);
  EXPECT_EQ(loaded.functions[0].code_dir, options_.code_dir / "Zipped");
  struct stat st {};
  ASSERT_EQ(::stat((options_.code_dir / "Zipped" / "bootstrap").c_str(), &st), 0);
  EXPECT_TRUE(st.st_mode & S_IXUSR);
  // The next start unpacks again, replacing the old copy whole (nothing half-written is left).
  std::ofstream(options_.code_dir / "Zipped" / "stale") << "from before";
  load("Resources:\n  Zipped:\n    Type: AWS::Serverless::Function\n    Properties:\n"
       "      CodeUri: fn.zip\n      Handler: h\n      Runtime: provided.al2023\n");
  EXPECT_FALSE(fs::exists(options_.code_dir / "Zipped" / "stale"));
  for (const auto& entry : fs::directory_iterator(options_.code_dir)) {
    EXPECT_EQ(entry.path().filename(), "Zipped");
  }
  // Not a zip: a typed error naming the resource and property, nothing left behind.
  std::ofstream(root_ / "bad.zip") << "this is not a zip";
  EXPECT_ERROR("Resources:\n  Bad:\n    Type: AWS::Serverless::Function\n    Properties:\n"
               "      CodeUri: bad.zip\n      Handler: h\n      Runtime: provided.al2023\n",
               "'Bad'", "'CodeUri'", "not a usable zip");
  EXPECT_FALSE(fs::exists(options_.code_dir / "Bad"));
}

TEST_F(SamTemplateTest, ValuesAreCheckedBeforeAnyCodeIsUnpacked) {
  ASSERT_EQ(std::system(("cd '" + (root_ / "code").string() + "' && zip -q -X ../fn.zip bootstrap").c_str()), 0);
  EXPECT_ERROR("Resources:\n  Zipped:\n    Type: AWS::Serverless::Function\n    Properties:\n"
               "      CodeUri: fn.zip\n      Handler: h\n      Runtime: provided.al2023\n      Timeout: 0\n",
               "'Zipped'", "'Timeout'");
  EXPECT_FALSE(fs::exists(options_.code_dir / "Zipped"));
}

TEST_F(SamTemplateTest, MalformedAndHostileYamlAreTypedErrors) {
  EXPECT_ERROR("Resources: [unclosed", "not valid YAML", "line 1");
  EXPECT_ERROR("Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n   bad indent: x\n", "not valid YAML");
  EXPECT_ERROR("", "must be a YAML map");
  EXPECT_ERROR("just a string", "must be a YAML map");
  EXPECT_ERROR("- a\n- list\n", "must be a YAML map");
  EXPECT_ERROR("AWSTemplateFormatVersion: '2010-09-09'\n", "no Resources map");
  EXPECT_ERROR("Resources: []\n", "no Resources map");
  EXPECT_ERROR("Resources:\n  Fn: scalar\n", "'Fn'", "must be a map");
  EXPECT_ERROR("Resources:\n  Fn:\n    Properties: {}\n", "'Fn'", "no Type");
  EXPECT_ERROR("Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties: [1]\n", "'Fn'", "'Properties'");
  EXPECT_ERROR("Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n  Fn:\n    Type: AWS::Serverless::Function\n",
               "'Fn' twice");
  EXPECT_ERROR(one_function("      Timeout: 3\n      Timeout: 4\n"), "'Timeout' twice");
  EXPECT_ERROR("Globals: [1]\n" + one_function(""), "'Globals'", "must be a map");
  EXPECT_ERROR("Globals:\n  Function: 3\n" + one_function(""), "'Globals'", "'Function'");
  EXPECT_ERROR("Parameters: 3\n" + one_function(""), "'Parameters'");
  // Two resources naming the same function.
  EXPECT_ERROR(one_function("      FunctionName: same\n") +
                   "  Other:\n    Type: AWS::Serverless::Function\n    Properties:\n"
                   "      CodeUri: code\n      Handler: h\n      Runtime: provided\n      FunctionName: same\n",
               "'Other'", "'same' is used by another resource");
  // Deep nesting: the parser's depth guard, not a stack overflow.
  std::string deep = "Resources:\n  Fn: " + std::string(100000, '[') + std::string(100000, ']') + "\n";
  EXPECT_ERROR(deep, "not valid YAML");
  // Billion laughs through Globals: aliases expand only as far as the node budget.
  std::string laughs = "Globals:\n  Function:\n    Tags:\n      a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'j'; ++c, ++prev) {
    laughs += std::string("      ") + c + ": &" + c + " [";
    for (int i = 0; i < 10; ++i) laughs += std::string(i ? ", " : "") + "*" + prev;
    laughs += "]\n";
  }
  EXPECT_ERROR(laughs + one_function(""), "more than 200000 nodes");
  // Oversized.
  EXPECT_ERROR(std::string(kMaxTemplateBytes + 1, '#'), "larger than");
  // Binary garbage.
  std::string garbage;
  std::mt19937 rng(7);
  for (int i = 0; i < 4096; ++i) garbage.push_back(static_cast<char>(rng() % 256));
  try {
    load(garbage);
  } catch (const TemplateError&) {
  }
}

TEST_F(SamTemplateTest, UnknownPropertiesAreNotedNotFatalAndIgnoredOnesListed) {
  auto loaded = load(one_function(
      "      Events:\n        Api:\n          Type: Api\n          Properties: {Path: /, Method: get}\n"
      "      Policies: [AWSLambdaBasicExecutionRole]\n      Tracing: Active\n      SomethingNew: 1\n"));
  ASSERT_EQ(loaded.functions.size(), 1u);
  std::string all;
  for (const auto& note : loaded.notes) all += note + "\n";
  EXPECT_NE(all.find("ignored Events, Policies, Tracing"), std::string::npos) << all;
  EXPECT_NE(all.find("unknown property 'SomethingNew'"), std::string::npos) << all;
}

TEST_F(SamTemplateTest, LoadTemplateFileResolvesCodeUriAgainstTheTemplatesDirectory) {
  fs::create_directories(root_ / "app");
  std::ofstream(root_ / "app" / "template.yaml")
      << "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
         "      CodeUri: ../code\n      Handler: h\n      Runtime: provided\n";
  auto loaded = load_template_file(root_ / "app" / "template.yaml", options_);
  ASSERT_EQ(loaded.functions.size(), 1u);
  EXPECT_EQ(loaded.functions[0].code_dir, fs::canonical(root_ / "code"));
  std::ofstream(root_ / "app" / "bad.yaml") << "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n";
  try {
    load_template_file(root_ / "app" / "bad.yaml", options_);
    ADD_FAILURE() << "loaded";
  } catch (const TemplateError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.yaml: template resource 'Fn'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_template_file(root_ / "app" / "missing.yaml", options_), TemplateError);
}

}  // namespace
