#include <gtest/gtest.h>

#include "stratus/emulator/lambda/lambda_router.hpp"

using namespace stratus::emulator;

TEST(Router, LambdaOperations) {
  struct Case {
    const char* method;
    const char* target;
    Operation op;
    const char* function;
  };
  const Case cases[] = {
      {"POST", "/2015-03-31/functions/echo/invocations", Operation::Invoke, "echo"},
      {"POST", "/2015-03-31/functions/echo/invocations?Qualifier=%24LATEST", Operation::Invoke, "echo"},
      {"POST", "/2015-03-31/functions", Operation::CreateFunction, ""},
      {"GET", "/2015-03-31/functions/", Operation::ListFunctions, ""},
      {"GET", "/2015-03-31/functions/echo", Operation::GetFunction, "echo"},
      {"DELETE", "/2015-03-31/functions/echo", Operation::DeleteFunction, "echo"},
      {"GET", "/2015-03-31/functions/echo/configuration", Operation::GetFunctionConfiguration, "echo"},
      {"PUT", "/2015-03-31/functions/echo/configuration", Operation::UpdateFunctionConfiguration, "echo"},
      {"PUT", "/2015-03-31/functions/echo/code", Operation::UpdateFunctionCode, "echo"},
      {"PUT", "/2017-10-31/functions/echo/concurrency", Operation::PutFunctionConcurrency, "echo"},
      {"DELETE", "/2017-10-31/functions/echo/concurrency", Operation::DeleteFunctionConcurrency, "echo"},
      {"GET", "/2019-09-30/functions/echo/concurrency", Operation::GetFunctionConcurrency, "echo"},
      {"PUT", "/2019-09-25/functions/echo/event-invoke-config", Operation::PutFunctionEventInvokeConfig, "echo"},
      {"GET", "/2016-08-19/account-settings", Operation::GetAccountSettings, ""},
      {"POST", "/2014-11-13/functions/echo/invoke-async/", Operation::InvokeAsync, "echo"},
      {"GET", "/metrics", Operation::Metrics, ""},
      {"GET", "/healthz", Operation::Health, ""},
      {"GET", "/stratus/v1/usage", Operation::Usage, ""},
      {"GET", "/stratus/v1/environments", Operation::Environments, ""},
      {"POST", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Aecho/invocations",
       Operation::Invoke, "arn:aws:lambda:us-east-1:000000000000:function:echo"},
  };
  for (const auto& c : cases) {
    Route r = route_request(c.method, c.target);
    EXPECT_EQ(r.operation, c.op) << c.method << " " << c.target;
    EXPECT_EQ(r.function, c.function) << c.target;
  }
}

TEST(Router, UnknownAndMalformed) {
  EXPECT_EQ(route_request("GET", "/").operation, Operation::Unknown);
  EXPECT_EQ(route_request("PATCH", "/2015-03-31/functions/echo").operation, Operation::Unknown);
  EXPECT_EQ(route_request("POST", "/2015-03-31/functions/echo/invocations/extra").operation, Operation::Unknown);
  EXPECT_EQ(route_request("POST", "/2015-03-31/functions/e%zzcho/invocations").operation, Operation::BadRequest);
  EXPECT_EQ(route_request("GET", "/2015-03-31/functions?Marker=%").operation, Operation::BadRequest);
}

TEST(Router, QueryIsDecoded) {
  Route r = route_request("GET", "/2015-03-31/functions/?MaxItems=2&Marker=abc");
  EXPECT_EQ(r.query.at("MaxItems"), "2");
  EXPECT_EQ(r.query.at("Marker"), "abc");
}

TEST(FunctionReference, AcceptsNamesAndArns) {
  FunctionReference ref;
  ASSERT_TRUE(parse_function_reference("echo", ref));
  EXPECT_EQ(ref.name, "echo");
  EXPECT_EQ(ref.qualifier, "");
  ASSERT_TRUE(parse_function_reference("echo:$LATEST", ref));
  EXPECT_EQ(ref.qualifier, "$LATEST");
  ASSERT_TRUE(parse_function_reference("arn:aws:lambda:us-east-1:123456789012:function:my-fn", ref));
  EXPECT_EQ(ref.name, "my-fn");
  ASSERT_TRUE(parse_function_reference("arn:aws:lambda:us-east-1:123456789012:function:my-fn:prod", ref));
  EXPECT_EQ(ref.qualifier, "prod");
  ASSERT_TRUE(parse_function_reference("123456789012:function:my-fn", ref));
  EXPECT_EQ(ref.name, "my-fn");
}

TEST(FunctionReference, RejectsMalformed) {
  FunctionReference ref;
  EXPECT_FALSE(parse_function_reference("", ref));
  EXPECT_FALSE(parse_function_reference("a b", ref));
  EXPECT_FALSE(parse_function_reference("../etc", ref));
  EXPECT_FALSE(parse_function_reference("echo:", ref));
  EXPECT_FALSE(parse_function_reference("a:b:c", ref));
  EXPECT_FALSE(parse_function_reference("arn:aws:lambda:r:1:function:f:q:extra", ref));
  EXPECT_FALSE(parse_function_reference(std::string(65, 'x'), ref));
}
