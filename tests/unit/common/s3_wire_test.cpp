// The S3 client's protocol pieces on their own: addressing, key encoding, XML in and out (including
// hostile documents), part planning, ranges and ETags.

#include "stratus/common/s3_wire.hpp"

#include <gtest/gtest.h>

#include <string>

namespace stratus::aws::s3 {
namespace {

Endpoint ep(const char* url) {
  return Endpoint::parse(url);
}

TEST(S3Wire, EncodesKeysOncePerSegmentKeepingSlashes) {
  EXPECT_EQ(encode_key("plain/key.txt"), "plain/key.txt");
  EXPECT_EQ(encode_key("a b/c+d%e~f.g_h-i"), "a%20b/c%2Bd%25e~f.g_h-i");
  EXPECT_EQ(encode_key("caf\xC3\xA9"), "caf%C3%A9");
  EXPECT_EQ(encode_key("a//b/"), "a//b/");
  EXPECT_EQ(encode_key("?#&=;:@!$'()*,"), "%3F%23%26%3D%3B%3A%40%21%24%27%28%29%2A%2C");
  EXPECT_EQ(encode_key("%2F"), "%252F");  // an already-encoded-looking key is encoded again, once
}

TEST(S3Wire, EncodesQueryInOrderAndDropsEqualsForEmptyValues) {
  EXPECT_EQ(encode_query({{"uploads", ""}}), "uploads");
  EXPECT_EQ(encode_query({{"partNumber", "3"}, {"uploadId", "a/b+c=="}}),
            "partNumber=3&uploadId=a%2Fb%2Bc%3D%3D");
  EXPECT_EQ(encode_query({{"prefix", "dir/a b"}}), "prefix=dir%2Fa%20b");
  EXPECT_EQ(encode_query({}), "");
}

TEST(S3Wire, BucketNamesThatFitInAHostLabel) {
  EXPECT_TRUE(is_dns_compatible_bucket("my-bucket-1", false));
  EXPECT_TRUE(is_dns_compatible_bucket("abc", false));
  EXPECT_FALSE(is_dns_compatible_bucket("ab", false));
  EXPECT_FALSE(is_dns_compatible_bucket(std::string(64, 'a'), false));
  EXPECT_TRUE(is_dns_compatible_bucket(std::string(63, 'a'), false));
  EXPECT_FALSE(is_dns_compatible_bucket("-abc", false));
  EXPECT_FALSE(is_dns_compatible_bucket("abc-", false));
  EXPECT_FALSE(is_dns_compatible_bucket("MyBucket", false));
  EXPECT_FALSE(is_dns_compatible_bucket("my_bucket", false));
  EXPECT_FALSE(is_dns_compatible_bucket("my.bucket", false));
  EXPECT_TRUE(is_dns_compatible_bucket("my.bucket", true));
  EXPECT_FALSE(is_dns_compatible_bucket("my..bucket", true));
  EXPECT_FALSE(is_dns_compatible_bucket("my.-bucket", true));
  EXPECT_FALSE(is_dns_compatible_bucket("192.168.1.1", true));
}

TEST(S3Wire, PathStyleForCustomEndpoints) {
  auto loc = locate(ep("http://127.0.0.1:9001"), S3AddressingStyle::Auto, "data", "dir/a b.bin");
  EXPECT_EQ(loc.endpoint.origin(), "http://127.0.0.1:9001");
  EXPECT_EQ(loc.target, "/data/dir/a%20b.bin");

  loc = locate(ep("http://localhost:4566/prefix/"), S3AddressingStyle::Auto, "data", "k",
               "partNumber=1&uploadId=x");
  EXPECT_EQ(loc.endpoint.host, "localhost");
  EXPECT_EQ(loc.target, "/prefix/data/k?partNumber=1&uploadId=x");

  loc = locate(ep("http://localhost:4566"), S3AddressingStyle::Auto, "data", "", "list-type=2");
  EXPECT_EQ(loc.target, "/data?list-type=2");

  loc = locate(ep("http://localhost:4566"), S3AddressingStyle::Auto, "", "");
  EXPECT_EQ(loc.target, "/");
}

TEST(S3Wire, VirtualHostedForAwsExceptWhenTheNameDoesNotFit) {
  Endpoint aws = ep("https://s3.us-west-2.amazonaws.com");
  auto loc = locate(aws, S3AddressingStyle::Auto, "my-bucket", "dir/key");
  EXPECT_EQ(loc.endpoint.host, "my-bucket.s3.us-west-2.amazonaws.com");
  EXPECT_EQ(loc.endpoint.host_header(), "my-bucket.s3.us-west-2.amazonaws.com");
  EXPECT_EQ(loc.target, "/dir/key");

  loc = locate(aws, S3AddressingStyle::Auto, "my-bucket", "", "list-type=2");
  EXPECT_EQ(loc.endpoint.host, "my-bucket.s3.us-west-2.amazonaws.com");
  EXPECT_EQ(loc.target, "/?list-type=2");

  // Dots would not match the *.s3.us-west-2.amazonaws.com certificate.
  loc = locate(aws, S3AddressingStyle::Auto, "my.bucket", "key");
  EXPECT_EQ(loc.endpoint.host, "s3.us-west-2.amazonaws.com");
  EXPECT_EQ(loc.target, "/my.bucket/key");

  // Legacy names with upper case or underscores are not host labels at all.
  loc = locate(aws, S3AddressingStyle::Auto, "My_Bucket", "key");
  EXPECT_EQ(loc.endpoint.host, "s3.us-west-2.amazonaws.com");
  EXPECT_EQ(loc.target, "/My_Bucket/key");

  // Without TLS there is no certificate to match: dotted names may go virtual-hosted.
  loc = locate(ep("http://s3.us-west-2.amazonaws.com"), S3AddressingStyle::Auto, "my.bucket", "k");
  EXPECT_EQ(loc.endpoint.host, "my.bucket.s3.us-west-2.amazonaws.com");

  loc = locate(ep("https://s3.cn-north-1.amazonaws.com.cn"), S3AddressingStyle::Auto, "b-1", "k");
  EXPECT_EQ(loc.endpoint.host, "b-1.s3.cn-north-1.amazonaws.com.cn");
}

TEST(S3Wire, ExplicitAddressingStyles) {
  Endpoint aws = ep("https://s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(locate(aws, S3AddressingStyle::Path, "bucket", "k").target, "/bucket/k");
  Endpoint custom = ep("http://minio.local:9000");
  auto loc = locate(custom, S3AddressingStyle::VirtualHosted, "bucket", "k");
  EXPECT_EQ(loc.endpoint.host, "bucket.minio.local");
  EXPECT_EQ(loc.target, "/k");
  // An address literal cannot take a bucket label.
  loc = locate(ep("http://127.0.0.1:9000"), S3AddressingStyle::VirtualHosted, "bucket", "k");
  EXPECT_EQ(loc.endpoint.host, "127.0.0.1");
  EXPECT_EQ(loc.target, "/bucket/k");
}

TEST(S3Wire, RefusesBucketNamesThatWouldChangeThePath) {
  Endpoint e = ep("http://127.0.0.1:9000");
  EXPECT_THROW(locate(e, S3AddressingStyle::Auto, "a/b", "k"), std::invalid_argument);
  EXPECT_THROW(locate(e, S3AddressingStyle::Auto, "a?b", "k"), std::invalid_argument);
  EXPECT_THROW(locate(e, S3AddressingStyle::Auto, "a b", "k"), std::invalid_argument);
  EXPECT_THROW(locate(e, S3AddressingStyle::Auto, "", "k"), std::invalid_argument);
}

constexpr const char* kListPage = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name><Prefix>dir%2F</Prefix><KeyCount>3</KeyCount><MaxKeys>2</MaxKeys>
  <Delimiter>%2F</Delimiter><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>
  <Contents><Key>dir%2Fa+b%2Bc.txt</Key><LastModified>2026-01-02T03:04:05.000Z</LastModified>
    <ETag>&quot;5d41402abc4b2a76b9719d911017c592&quot;</ETag><Size>5</Size>
    <StorageClass>STANDARD</StorageClass></Contents>
  <Contents><Key>dir%2F%C3%A9%20%26%3C%3E</Key><LastModified>2026-01-02T03:04:06.000Z</LastModified>
    <ETag>"abc-2"</ETag><Size>20000000000</Size></Contents>
  <CommonPrefixes><Prefix>dir%2Fsub%2F</Prefix></CommonPrefixes>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
</ListBucketResult>)";

TEST(S3Wire, ParsesListObjectsV2AndDecodesUrlEncodedKeys) {
  S3ListPage page = parse_list_objects_v2(kListPage);
  ASSERT_EQ(page.objects.size(), 2u);
  EXPECT_EQ(page.objects[0].key, "dir/a b+c.txt");
  EXPECT_EQ(page.objects[0].size, 5u);
  EXPECT_EQ(page.objects[0].etag, "\"5d41402abc4b2a76b9719d911017c592\"");
  EXPECT_EQ(page.objects[0].last_modified, "2026-01-02T03:04:05.000Z");
  EXPECT_EQ(page.objects[1].key, "dir/\xC3\xA9 &<>");
  EXPECT_EQ(page.objects[1].size, 20000000000u);
  ASSERT_EQ(page.common_prefixes.size(), 1u);
  EXPECT_EQ(page.common_prefixes[0], "dir/sub/");
  EXPECT_TRUE(page.truncated);
  // The token is opaque and never URL-encoded.
  EXPECT_EQ(page.next_continuation_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
}

TEST(S3Wire, KeysAreTakenLiterallyWithoutEncodingType) {
  S3ListPage page = parse_list_objects_v2(
      "<ListBucketResult><IsTruncated>false</IsTruncated>"
      "<Contents><Key> a+b%20c &amp; </Key><Size>0</Size></Contents></ListBucketResult>");
  ASSERT_EQ(page.objects.size(), 1u);
  EXPECT_EQ(page.objects[0].key, " a+b%20c & ");  // spaces at the ends survive too
  EXPECT_FALSE(page.truncated);
  EXPECT_TRUE(page.next_continuation_token.empty());
}

TEST(S3Wire, EmptyListing) {
  S3ListPage page = parse_list_objects_v2(
      "<?xml version=\"1.0\"?><ListBucketResult><KeyCount>0</KeyCount><IsTruncated>false"
      "</IsTruncated></ListBucketResult>");
  EXPECT_TRUE(page.objects.empty());
  EXPECT_TRUE(page.common_prefixes.empty());
  EXPECT_FALSE(page.truncated);
}

void expect_malformed(const std::string& body) {
  try {
    parse_list_objects_v2(body);
    ADD_FAILURE() << "accepted: " << body.substr(0, 200);
  } catch (const S3Error& e) {
    EXPECT_EQ(e.code(), "MalformedResponse") << e.what();
  }
}

TEST(S3Wire, RefusesMalformedListings) {
  expect_malformed("");
  expect_malformed("not xml");
  expect_malformed("{\"json\": true}");
  expect_malformed("<ListBucketResult><Contents><Key>k</Key>");  // truncated
  expect_malformed("<Error><Code>NoSuchBucket</Code></Error>");  // wrong root
  expect_malformed(
      "<ListBucketResult><Contents><Key>k</Key><Size>12x</Size></Contents>"
      "</ListBucketResult>");
  expect_malformed(
      "<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents>"
      "</ListBucketResult>");
  expect_malformed(
      "<ListBucketResult><Contents><Key>k</Key><Size>99999999999999999999999"
      "</Size></Contents></ListBucketResult>");
  expect_malformed("<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>");
  expect_malformed("<ListBucketResult><IsTruncated>yes</IsTruncated></ListBucketResult>");
  expect_malformed(
      "<ListBucketResult><EncodingType>url</EncodingType><Contents><Key>%zz</Key>"
      "<Size>1</Size></Contents></ListBucketResult>");
}

TEST(S3Wire, DeeplyNestedXmlIsRefusedWithoutRecursion) {
  // Boost.PropertyTree's parser recurses per level: 100,000 levels would overflow the stack.
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "<a>";
  for (int i = 0; i < 100000; ++i) deep += "</a>";
  expect_malformed(deep);
  EXPECT_FALSE(parse_error(deep).has_value());
  // Closing tags first cannot buy depth for the opening ones after them.
  std::string sneaky = "<ListBucketResult>";
  for (int i = 0; i < 100000; ++i) sneaky += "</x>";
  for (int i = 0; i < 100000; ++i) sneaky += "<x>";
  expect_malformed(sneaky);
  // Self-closing tags and '>' inside attribute values do not nest.
  std::string flat = "<ListBucketResult>";
  for (int i = 0; i < 1000; ++i) flat += "<Owner a=\">>\"/>";
  flat += "</ListBucketResult>";
  EXPECT_NO_THROW(parse_list_objects_v2(flat));
}

TEST(S3Wire, EntitiesAreNotExpanded) {
  // A "billion laughs" document: the parser does not expand declared entities, so nothing grows.
  std::string laughs =
      "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
      "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
      "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>"
      "<ListBucketResult><Contents><Key>&lol3;</Key><Size>1</Size></Contents></ListBucketResult>";
  try {
    S3ListPage page = parse_list_objects_v2(laughs);
    ASSERT_EQ(page.objects.size(), 1u);
    EXPECT_LT(page.objects[0].key.size(), 16u);
  } catch (const S3Error& e) {
    EXPECT_EQ(e.code(), "MalformedResponse");
  }
  // External entities are never fetched either.
  std::string external =
      "<!DOCTYPE x [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>"
      "<Error><Code>&xxe;</Code><Message>m</Message></Error>";
  auto doc = parse_error(external);
  if (doc) {
    EXPECT_EQ(doc->code.find("root:"), std::string::npos);
  }
}

TEST(S3Wire, ParsesErrorDocuments) {
  auto doc = parse_error(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
      "<Message>The specified key does not exist.</Message><Key>a&amp;b</Key>"
      "<RequestId>4442587FB7D0A2F9</RequestId><HostId>host/id=</HostId></Error>");
  ASSERT_TRUE(doc.has_value());
  EXPECT_EQ(doc->code, "NoSuchKey");
  EXPECT_EQ(doc->message, "The specified key does not exist.");
  EXPECT_EQ(doc->request_id, "4442587FB7D0A2F9");
  EXPECT_EQ(doc->host_id, "host/id=");

  doc = parse_error(
      "<Error><Code>PermanentRedirect</Code><Message>Use the endpoint</Message>"
      "<Endpoint>b.s3.eu-west-1.amazonaws.com</Endpoint><Region>eu-west-1</Region></Error>");
  ASSERT_TRUE(doc.has_value());
  EXPECT_EQ(doc->endpoint, "b.s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(doc->region, "eu-west-1");

  EXPECT_FALSE(parse_error("").has_value());
  EXPECT_FALSE(parse_error("Internal Server Error").has_value());
  EXPECT_FALSE(parse_error("{\"__type\":\"x\"}").has_value());
  EXPECT_FALSE(parse_error("<html><body>502 Bad Gateway</body></html>").has_value());
  EXPECT_FALSE(parse_error("<Error><Message>no code</Message></Error>").has_value());
  EXPECT_FALSE(parse_error("<Error><Code>Trunc").has_value());
  EXPECT_FALSE(parse_error("<CompleteMultipartUploadResult><ETag>x</ETag>"
                           "</CompleteMultipartUploadResult>")
                   .has_value());
}

TEST(S3Wire, ParsesMultipartDocuments) {
  EXPECT_EQ(parse_initiate_multipart_upload(
                "<?xml version=\"1.0\"?><InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws"
                ".com/doc/2006-03-01/\"><Bucket>b</Bucket><Key>k</Key><UploadId>VXBsb2FkIElE+/=="
                "</UploadId></InitiateMultipartUploadResult>"),
            "VXBsb2FkIElE+/==");
  EXPECT_THROW(parse_initiate_multipart_upload("<InitiateMultipartUploadResult><Bucket>b</Bucket>"
                                               "</InitiateMultipartUploadResult>"),
               S3Error);
  EXPECT_THROW(parse_initiate_multipart_upload("<Error><Code>AccessDenied</Code></Error>"),
               S3Error);

  // S3 pads a long-running CompleteMultipartUpload response with whitespace before the document.
  EXPECT_EQ(parse_complete_multipart_upload(
                "   \n   <?xml version=\"1.0\"?>\n<CompleteMultipartUploadResult><Location>"
                "http://b.s3.amazonaws.com/k</Location><Bucket>b</Bucket><Key>k</Key>"
                "<ETag>&quot;3858f62230ac3c915f300c664312c11f-9&quot;</ETag>"
                "</CompleteMultipartUploadResult>"),
            "\"3858f62230ac3c915f300c664312c11f-9\"");

  auto uploads = parse_list_multipart_uploads(
      "<ListMultipartUploadsResult><Bucket>b</Bucket><EncodingType>url</EncodingType>"
      "<Upload><Key>a+b</Key><UploadId>id1</UploadId><Initiated>2026-01-01T00:00:00.000Z"
      "</Initiated></Upload><Upload><Key>c</Key><UploadId>id2</UploadId></Upload>"
      "</ListMultipartUploadsResult>");
  ASSERT_EQ(uploads.size(), 2u);
  EXPECT_EQ(uploads[0].key, "a b");
  EXPECT_EQ(uploads[0].upload_id, "id1");
  EXPECT_EQ(uploads[0].initiated, "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(uploads[1].key, "c");
}

TEST(S3Wire, BuildsRequestDocuments) {
  EXPECT_EQ(complete_multipart_upload_body({"\"aa\"", "\"bb\""}),
            "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            "<Part><ETag>&quot;aa&quot;</ETag><PartNumber>1</PartNumber></Part>"
            "<Part><ETag>&quot;bb&quot;</ETag><PartNumber>2</PartNumber></Part>"
            "</CompleteMultipartUpload>");
  EXPECT_EQ(create_bucket_body("us-east-1"), "");
  EXPECT_EQ(create_bucket_body(""), "");
  EXPECT_EQ(create_bucket_body("eu-west-1"),
            "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            "<LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>");
  EXPECT_EQ(xml_escape("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;");
}

TEST(S3Wire, PlansPartsWithinS3Limits) {
  constexpr std::uint64_t MiB = 1 << 20;
  PartPlan plan = plan_parts(50'000'000, 16 * MiB);
  EXPECT_EQ(plan.part_size, 16 * MiB);
  ASSERT_EQ(plan.count, 3u);
  EXPECT_EQ(plan.offset(0), 0u);
  EXPECT_EQ(plan.size(0), 16 * MiB);
  EXPECT_EQ(plan.offset(2), 32 * MiB);
  EXPECT_EQ(plan.size(2), 16'445'568u);  // the short last part

  plan = plan_parts(48 * MiB, 16 * MiB);  // an exact multiple: the last part is full
  EXPECT_EQ(plan.count, 3u);
  EXPECT_EQ(plan.size(2), 16 * MiB);

  plan = plan_parts(12 * MiB, 1 * MiB);  // raised to S3's 5 MiB minimum
  EXPECT_EQ(plan.part_size, 5 * MiB);
  EXPECT_EQ(plan.count, 3u);
  EXPECT_EQ(plan.size(2), 2 * MiB);

  plan = plan_parts(1, 16 * MiB);
  EXPECT_EQ(plan.count, 1u);
  EXPECT_EQ(plan.size(0), 1u);

  plan = plan_parts(10000 * 16 * MiB, 16 * MiB);  // exactly the part limit
  EXPECT_EQ(plan.part_size, 16 * MiB);
  EXPECT_EQ(plan.count, 10000u);

  plan = plan_parts(10000 * 16 * MiB + 1, 16 * MiB);  // one byte more: bigger parts
  EXPECT_EQ(plan.part_size, 17 * MiB);
  EXPECT_LE(plan.count, 10000u);

  plan = plan_parts(200ull << 30, 16 * MiB);
  EXPECT_EQ(plan.part_size, 21 * MiB);
  EXPECT_EQ(plan.count, 9753u);
  std::uint64_t sum = 0;
  for (std::uint32_t i = 0; i < plan.count; ++i) sum += plan.size(i);
  EXPECT_EQ(sum, 200ull << 30);
  EXPECT_EQ(plan.size(plan.count), 0u);

  plan = plan_parts(kMaxPartSize * kMaxParts, 16 * MiB);  // the largest object S3 takes
  EXPECT_EQ(plan.part_size, kMaxPartSize);
  EXPECT_EQ(plan.count, kMaxParts);
  EXPECT_THROW(plan_parts(kMaxPartSize * kMaxParts + 1, 16 * MiB), std::invalid_argument);
  EXPECT_EQ(plan_parts(100, 64ull << 30).part_size, kMaxPartSize);  // capped at 5 GiB
}

TEST(S3Wire, RangesAndContentRange) {
  EXPECT_EQ(range_header(0, 1), "bytes=0-0");
  EXPECT_EQ(range_header(100, 50), "bytes=100-149");
  auto r = parse_content_range("bytes 0-99/1234");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->first, 0u);
  EXPECT_EQ(r->last, 99u);
  EXPECT_EQ(r->total, 1234u);
  r = parse_content_range("bytes 17179869184-17179869184/17179869185");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->first, 17179869184u);
  for (const char* bad :
       {"", "bytes", "bytes */100", "bytes 0-9/*", "bytes 5-3/10", "bytes 0-9/5", "items 0-1/2",
        "bytes 0-9/10 ", "bytes -1-2/3", "bytes 0-9/10/11", "bytes 0 - 9/10"}) {
    EXPECT_FALSE(parse_content_range(bad).has_value()) << bad;
  }
}

TEST(S3Wire, Digests) {
  EXPECT_EQ(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(md5_hex("hello"), "5d41402abc4b2a76b9719d911017c592");
  EXPECT_EQ(multipart_etag({md5("part one"), md5("part two")}),
            "0732917abc3288784e318ac0aab1757a-2");
  EXPECT_EQ(unquote_etag("\"abc\""), "abc");
  EXPECT_EQ(unquote_etag("W/\"abc\""), "abc");
  EXPECT_EQ(unquote_etag("abc"), "abc");
  EXPECT_EQ(unquote_etag("\""), "\"");
}

}  // namespace
}  // namespace stratus::aws::s3
