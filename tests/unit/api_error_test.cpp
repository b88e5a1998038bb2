#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "stratus/emulator/lambda/api_error.hpp"

using namespace stratus::emulator;

TEST(ApiError, BuildsAwsShapedErrors) {
  auto r = make_error_response(LambdaError::ResourceNotFound, "Function not found: x", "req-1");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.headers.get("X-Amzn-ErrorType"), "ResourceNotFoundException");
  EXPECT_EQ(r.headers.get("x-amzn-RequestId"), "req-1");
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["Type"], "User");
  EXPECT_EQ(body["message"], "Function not found: x");
  EXPECT_FALSE(body.contains("Reason"));
}

TEST(ApiError, ThrottleCarriesReasonAndRetryAfter) {
  auto r = make_error_response(LambdaError::TooManyRequests, "Rate Exceeded.", "r",
                               std::string("ReservedFunctionConcurrentInvocationLimitExceeded"));
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.headers.get("Retry-After"), "1");
  EXPECT_EQ(nlohmann::json::parse(r.body)["Reason"], "ReservedFunctionConcurrentInvocationLimitExceeded");
}

TEST(ApiError, ServiceErrorsAreTypedService) {
  auto r = make_error_response(LambdaError::Service, "boom", "r");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(nlohmann::json::parse(r.body)["Type"], "Service");
}

TEST(ApiError, StatusTable) {
  EXPECT_EQ(describe(LambdaError::InvalidRequestContent).status, 400);
  EXPECT_EQ(describe(LambdaError::RequestTooLarge).status, 413);
  EXPECT_EQ(describe(LambdaError::ResourceConflict).status, 409);
  EXPECT_EQ(describe(LambdaError::UnsupportedMediaType).status, 415);
  EXPECT_STREQ(describe(LambdaError::InvalidParameterValue).type, "InvalidParameterValueException");
}
