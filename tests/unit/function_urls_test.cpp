// Function URLs: the URL forms, the management bodies, the 2.0 event and the answer rules.

#include "stratus/emulator/lambda/function_urls.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "stratus/emulator/lambda/lambda_router.hpp"

using namespace stratus;
using namespace stratus::emulator;
using nlohmann::json;

namespace {

HttpRequest request(std::string method, std::string target, std::string host = "127.0.0.1:9001") {
  HttpRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.headers.add("Host", std::move(host));
  return r;
}

const std::string kId = "abcdefghijklmnopqrstuvwxyz012345";

}  // namespace

TEST(FunctionUrls, TargetsInThePathAndHostForms) {
  auto path = function_url_target(request("GET", "/lambda-url/" + kId + "/a/b?x=1"));
  ASSERT_TRUE(path);
  EXPECT_EQ(path->url_id, kId);
  EXPECT_EQ(path->raw_path, "/a/b");
  EXPECT_EQ(path->raw_query, "x=1");
  auto bare = function_url_target(request("GET", "/lambda-url/" + kId));
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->raw_path, "/");
  auto host =
      function_url_target(request("GET", "/p?q", kId + ".lambda-url.us-east-1.localhost:9001"));
  ASSERT_TRUE(host);
  EXPECT_EQ(host->raw_path, "/p");
  const std::vector<std::string> bad_targets = {"/lambda-url/short/",
                                                "/lambda-url/" + std::string(32, 'A') + "/",
                                                "/2015-03-31/functions", "/lambda-url/"};
  for (const std::string& bad : bad_targets) {
    EXPECT_FALSE(function_url_target(request("GET", bad))) << bad;
  }
  EXPECT_FALSE(function_url_target(request("GET", "/", kId + ".lambda-url.us-east-1.example.com")));
}

TEST(FunctionUrls, ManagementRoutes) {
  EXPECT_EQ(route_request("POST", "/2021-10-31/functions/f/url").operation,
            Operation::CreateFunctionUrlConfig);
  EXPECT_EQ(route_request("GET", "/2021-10-31/functions/f/url").operation,
            Operation::GetFunctionUrlConfig);
  EXPECT_EQ(route_request("PUT", "/2021-10-31/functions/f/url").operation,
            Operation::UpdateFunctionUrlConfig);
  EXPECT_EQ(route_request("DELETE", "/2021-10-31/functions/f/url").operation,
            Operation::DeleteFunctionUrlConfig);
  EXPECT_EQ(route_request("GET", "/2021-10-31/functions/f/urls").operation,
            Operation::ListFunctionUrlConfigs);
}

TEST(FunctionUrls, RegistryAndBodies) {
  FunctionUrls urls;
  EXPECT_THROW(urls.create("f", json::object()), FunctionUrlRequestError);
  EXPECT_THROW(urls.create("f", {{"AuthType", "OPEN"}}), FunctionUrlRequestError);
  EXPECT_THROW(urls.create("f", {{"AuthType", "NONE"}, {"Cors", {{"MaxAge", 86401}}}}),
               FunctionUrlRequestError);
  EXPECT_THROW(urls.create("f", {{"AuthType", "NONE"}, {"Cors", {{"AllowOrigins", {1}}}}}),
               FunctionUrlRequestError);
  const auto created = urls.create("f", {{"AuthType", "NONE"}});
  ASSERT_TRUE(created);
  EXPECT_FALSE(urls.create("f", {{"AuthType", "NONE"}}));
  EXPECT_EQ(urls.find_by_url_id(created->url_id)->function, "f");
  EXPECT_THROW(urls.update("f", {{"AuthType", "bad"}}), FunctionUrlRequestError);
  EXPECT_EQ(urls.get("f")->auth_type, "NONE");  // a refused update changes nothing
  EXPECT_EQ(urls.update("f", {{"AuthType", "AWS_IAM"}})->auth_type, "AWS_IAM");
  EXPECT_TRUE(urls.remove("f"));
  EXPECT_FALSE(urls.remove("f"));
  EXPECT_FALSE(urls.find_by_url_id(created->url_id));
}

TEST(FunctionUrls, AnswersAreReadAsAwsDoes) {
  auto answer = [](std::string payload, std::string error = "") {
    InvocationOutcome outcome;
    outcome.payload = std::move(payload);
    outcome.function_error = std::move(error);
    return function_url_response(outcome, "rid");
  };
  auto bare = answer(R"({"hello":"world"})");
  EXPECT_EQ(bare.status, 200);
  EXPECT_EQ(bare.body, R"({"hello":"world"})");
  EXPECT_EQ(bare.headers.get("Content-Type"), "application/json");
  EXPECT_EQ(answer(R"("just a string")").body, R"("just a string")");
  auto shaped = answer(R"({"statusCode":404,"headers":{"X-A":"1"},"body":"nope"})");
  EXPECT_EQ(shaped.status, 404);
  EXPECT_EQ(shaped.headers.get("X-A"), "1");
  EXPECT_EQ(shaped.body, "nope");
  EXPECT_EQ(answer(R"({"statusCode":200,"body":"aGk=","isBase64Encoded":true})").body, "hi");
  EXPECT_EQ(answer("{}", "Unhandled").status, 502);
  EXPECT_EQ(answer(R"({"statusCode":"x"})").status, 502);
  EXPECT_EQ(answer(R"({"statusCode":700})").status, 502);
  EXPECT_EQ(answer(R"({"statusCode":200,"headers":{"X":"a\r\nInjected: 1"}})").status, 502);
  EXPECT_EQ(answer(R"({"statusCode":200,"body":"@@","isBase64Encoded":true})").status, 502);
}

TEST(FunctionUrls, TheEventOfARequest) {
  HttpRequest r = request("POST", "/lambda-url/" + kId + "/p?a=1&a=2");
  r.headers.add("Cookie", "x=1; y=2");
  r.headers.add("Content-Type", "text/plain");
  r.body = "hi";
  FunctionUrlConfig config;
  config.url_id = kId;
  config.auth_type = "NONE";
  const auto event = json::parse(
      function_url_event(r, *function_url_target(r), config, "rid", "eu-west-1", "1", ""));
  EXPECT_EQ(event["version"], "2.0");
  EXPECT_EQ(event["rawPath"], "/p");
  EXPECT_EQ(event["queryStringParameters"]["a"], "1,2");
  EXPECT_EQ(event["cookies"], json({"x=1", "y=2"}));
  EXPECT_EQ(event["headers"]["host"], "127.0.0.1:9001");
  EXPECT_EQ(event["body"], "hi");
  EXPECT_EQ(event["isBase64Encoded"], false);
  EXPECT_EQ(event["requestContext"]["domainName"], kId + ".lambda-url.eu-west-1.on.aws");
  r.body = std::string("\xff\xfe", 2);  // not UTF-8 even though it says text
  const auto binary =
      json::parse(function_url_event(r, *function_url_target(r), config, "rid", "r", "1", ""));
  EXPECT_EQ(binary["isBase64Encoded"], true);
  EXPECT_EQ(binary["body"], "//4=");
}
