#include "stratus/emulator/s3/s3_error.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "stratus/emulator/s3/s3_xml.hpp"

using namespace stratus::emulator::s3;

// Statuses from the S3 API reference "Error responses" list.
TEST(S3Error, StatusesMatchS3) {
  struct Expect {
    S3ErrorCode code;
    int status;
    const char* name;
  };
  const Expect table[] = {
      {S3ErrorCode::NoSuchBucket, 404, "NoSuchBucket"},
      {S3ErrorCode::NoSuchKey, 404, "NoSuchKey"},
      {S3ErrorCode::NoSuchUpload, 404, "NoSuchUpload"},
      {S3ErrorCode::BucketAlreadyOwnedByYou, 409, "BucketAlreadyOwnedByYou"},
      {S3ErrorCode::BucketAlreadyExists, 409, "BucketAlreadyExists"},
      {S3ErrorCode::BucketNotEmpty, 409, "BucketNotEmpty"},
      {S3ErrorCode::InvalidBucketName, 400, "InvalidBucketName"},
      {S3ErrorCode::InvalidArgument, 400, "InvalidArgument"},
      {S3ErrorCode::InvalidRange, 416, "InvalidRange"},
      {S3ErrorCode::InvalidPart, 400, "InvalidPart"},
      {S3ErrorCode::InvalidPartOrder, 400, "InvalidPartOrder"},
      {S3ErrorCode::EntityTooSmall, 400, "EntityTooSmall"},
      {S3ErrorCode::EntityTooLarge, 400, "EntityTooLarge"},
      {S3ErrorCode::MalformedXML, 400, "MalformedXML"},
      {S3ErrorCode::InvalidDigest, 400, "InvalidDigest"},
      {S3ErrorCode::BadDigest, 400, "BadDigest"},
      {S3ErrorCode::InvalidRequest, 400, "InvalidRequest"},
      {S3ErrorCode::IncompleteBody, 400, "IncompleteBody"},
      {S3ErrorCode::MethodNotAllowed, 405, "MethodNotAllowed"},
      {S3ErrorCode::NotImplemented, 501, "NotImplemented"},
      {S3ErrorCode::AccessDenied, 403, "AccessDenied"},
      {S3ErrorCode::SignatureDoesNotMatch, 403, "SignatureDoesNotMatch"},
      {S3ErrorCode::InvalidAccessKeyId, 403, "InvalidAccessKeyId"},
      {S3ErrorCode::MissingContentLength, 411, "MissingContentLength"},
      {S3ErrorCode::KeyTooLongError, 400, "KeyTooLongError"},
      {S3ErrorCode::PreconditionFailed, 412, "PreconditionFailed"},
      {S3ErrorCode::NotModified, 304, "NotModified"},
      {S3ErrorCode::InternalError, 500, "InternalError"},
      {S3ErrorCode::ServiceUnavailable, 503, "ServiceUnavailable"},
      {S3ErrorCode::SlowDown, 503, "SlowDown"},
      {S3ErrorCode::XAmzContentSHA256Mismatch, 400, "XAmzContentSHA256Mismatch"},
      {S3ErrorCode::RequestTimeTooSkewed, 403, "RequestTimeTooSkewed"},
      {S3ErrorCode::AuthorizationHeaderMalformed, 400, "AuthorizationHeaderMalformed"},
      {S3ErrorCode::OperationAborted, 409, "OperationAborted"},
  };
  for (const auto& e : table) {
    EXPECT_EQ(s3_error_info(e.code).status, e.status) << e.name;
    EXPECT_EQ(s3_error_info(e.code).code, e.name);
  }
}

TEST(S3Error, EveryCodeHasADistinctNameAndAMessage) {
  std::set<std::string_view> names;
  for (int i = 0; i <= static_cast<int>(S3ErrorCode::XAmzContentSHA256Mismatch); ++i) {
    const auto& info = s3_error_info(static_cast<S3ErrorCode>(i));
    EXPECT_TRUE(names.insert(info.code).second) << info.code;
    EXPECT_FALSE(info.default_message.empty()) << info.code;
    EXPECT_TRUE(info.status >= 300 && info.status < 600) << info.code;
  }
}

TEST(S3Error, XmlBodyShape) {
  EXPECT_EQ(s3_error_xml(S3ErrorCode::NoSuchKey, "", "/bucket/a<b>.txt", "REQ1",
                         {.bucket_name = "bucket", .key = "a<b>.txt", .extra = {}}),
            R"(<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code>)"
            "<Message>The specified key does not exist.</Message><BucketName>bucket</BucketName>"
            "<Key>a&lt;b&gt;.txt</Key><Resource>/bucket/a&lt;b&gt;.txt</Resource>"
            "<RequestId>REQ1</RequestId></Error>");
  EXPECT_EQ(s3_error_xml(S3ErrorCode::InvalidArgument, "bad & worse", "", "",
                         {.bucket_name = {},
                          .key = {},
                          .extra = {{"ArgumentName", "max-keys"}, {"ArgumentValue", "-1"}}}),
            R"(<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidArgument</Code>)"
            "<Message>bad &amp; worse</Message><ArgumentName>max-keys</ArgumentName>"
            "<ArgumentValue>-1</ArgumentValue></Error>");
}

// The error body is itself parseable by our own strict parser rules (well-formed, UTF-8).
TEST(S3Error, XmlBodyEscapesHostileText) {
  std::string body = s3_error_xml(S3ErrorCode::InvalidRequest, "]]><x>&\r\n\x01", "/b/\"k'", "r");
  EXPECT_EQ(body.find("<x>"), std::string::npos);
  EXPECT_NE(body.find("]]&gt;&lt;x&gt;&amp;&#13;&#10;&#x01;"), std::string::npos) << body;
  EXPECT_NE(body.find("/b/&quot;k&apos;"), std::string::npos) << body;
}

TEST(S3Exception, CarriesCodeMessageAndDetails) {
  try {
    throw S3Exception(S3ErrorCode::NoSuchBucket, "", {.bucket_name = "b", .key = {}, .extra = {}});
  } catch (const std::runtime_error& e) {
    auto* s3 = dynamic_cast<const S3Exception*>(&e);
    ASSERT_NE(s3, nullptr);
    EXPECT_EQ(s3->code, S3ErrorCode::NoSuchBucket);
    EXPECT_EQ(s3->status(), 404);
    EXPECT_STREQ(e.what(), "The specified bucket does not exist");
    EXPECT_EQ(s3->details.bucket_name, "b");
  }
  S3Exception custom(S3ErrorCode::InvalidRange, "bytes=9-");
  EXPECT_STREQ(custom.what(), "bytes=9-");
  EXPECT_EQ(custom.status(), 416);
}
