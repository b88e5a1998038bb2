#include "stratus/emulator/s3/s3_xml.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace stratus::emulator::s3;
using stratus::ChecksumAlgorithm;

namespace {

constexpr const char* kProlog = R"(<?xml version="1.0" encoding="UTF-8"?>)";

std::string delete_body(std::string_view objects, std::string_view quiet = "") {
  std::string body =
      R"(<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)";
  if (!quiet.empty()) body += "<Quiet>" + std::string(quiet) + "</Quiet>";
  body += objects;
  body += "</Delete>";
  return body;
}

std::string key_object(std::string_view escaped_key) {
  return "<Object><Key>" + std::string(escaped_key) + "</Key></Object>";
}

std::string only_key(std::string_view escaped_key) {
  auto parsed = parse_delete_objects(delete_body(key_object(escaped_key)));
  EXPECT_EQ(parsed.objects.size(), 1u);
  return parsed.objects.empty() ? std::string() : parsed.objects[0].key;
}

void expect_xml_error(std::string_view body, std::string_view what) {
  try {
    parse_delete_objects(body);
    ADD_FAILURE() << "accepted: " << body.substr(0, 200);
  } catch (const S3XmlError& e) {
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

}  // namespace

// --- writing -------------------------------------------------------------------------------------

TEST(XmlEscape, EscapesMarkupAndLineEnds) {
  EXPECT_EQ(xml_escape(R"(a&b<c>d"e'f)"), "a&amp;b&lt;c&gt;d&quot;e&apos;f");
  EXPECT_EQ(xml_escape("a\r\nb\tc"), "a&#13;&#10;b&#9;c");
  EXPECT_EQ(xml_escape(std::string("\x01\x1f\x7f", 3)), "&#x01;&#x1F;&#x7F;");
  EXPECT_EQ(xml_escape("caf\xc3\xa9 \xf0\x9f\x98\x80"),
            "caf\xc3\xa9 \xf0\x9f\x98\x80");  // UTF-8 as is
  EXPECT_EQ(xml_escape(""), "");
}

TEST(XmlWriter, BuildsS3Documents) {
  XmlWriter xml;
  xml.open_s3("ListAllMyBucketsResult");
  xml.open("Buckets").open("Bucket").element("Name", "a&b").element("Size", std::uint64_t{42});
  xml.element("IsTruncated", false).element("Count", 7).element("Literal", "STANDARD");
  EXPECT_EQ(xml.depth(), 3u);
  xml.close();
  std::string doc = xml.finish();
  EXPECT_EQ(doc, std::string(kProlog) +
                     R"(<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)"
                     "<Buckets><Bucket><Name>a&amp;b</Name><Size>42</Size>"
                     "<IsTruncated>false</IsTruncated><Count>7</Count>"
                     "<Literal>STANDARD</Literal></Bucket></Buckets></ListAllMyBucketsResult>");
}

TEST(XmlWriter, RefusesBadNamesAndUnbalancedClose) {
  XmlWriter xml;
  EXPECT_THROW(xml.open("a b"), std::invalid_argument);
  EXPECT_THROW(xml.open(""), std::invalid_argument);
  EXPECT_THROW(xml.element("1x", "v"), std::invalid_argument);
  EXPECT_THROW(xml.element("x>", "v"), std::invalid_argument);
  EXPECT_THROW(xml.close(), std::logic_error);
}

// What the writer escapes, the parser gives back unchanged (keys with markup, CR, LF, tabs).
TEST(XmlWriter, EscapedKeysRoundTripThroughTheParser) {
  for (std::string key : {"plain", "a&b<c>\"d'", "line1\r\nline2\rline3\n", " lead and trail ",
                          "tab\there", " ", "\n", "caf\xc3\xa9/\xf0\x9f\x98\x80", "]]>", "&amp;"}) {
    EXPECT_EQ(only_key(xml_escape(key)), key);
  }
}

// --- DeleteObjects -------------------------------------------------------------------------------

TEST(DeleteObjects, ParsesWhatBotocoreSends) {
  auto parsed = parse_delete_objects(delete_body(
      "<Object><Key>a.txt</Key></Object><Object><Key>dir/b</Key><VersionId>v1</VersionId></Object>",
      "true"));
  EXPECT_TRUE(parsed.quiet);
  ASSERT_EQ(parsed.objects.size(), 2u);
  EXPECT_EQ(parsed.objects[0].key, "a.txt");
  EXPECT_EQ(parsed.objects[0].version_id, "");
  EXPECT_EQ(parsed.objects[1].key, "dir/b");
  EXPECT_EQ(parsed.objects[1].version_id, "v1");
}

TEST(DeleteObjects, QuietForms) {
  EXPECT_FALSE(parse_delete_objects(delete_body(key_object("k"))).quiet);
  EXPECT_TRUE(parse_delete_objects(delete_body(key_object("k"), " TRUE\n")).quiet);
  EXPECT_FALSE(parse_delete_objects(delete_body(key_object("k"), "false")).quiet);
  expect_xml_error(delete_body(key_object("k"), "yes"), "Quiet");
  expect_xml_error(delete_body(key_object("k") + "<Quiet>true</Quiet>", "true"), "more than once");
}

TEST(DeleteObjects, KeysKeepWhitespaceAndDecodeReferences) {
  EXPECT_EQ(only_key("  spaced  "), "  spaced  ");
  EXPECT_EQ(only_key("   "), "   ");  // whitespace-only text, which the parser alone would drop
  EXPECT_EQ(only_key("a&#x0D;b&#13;c&#x0a;d"), "a\rb\rc\nd");
  EXPECT_EQ(only_key("&#x1F600;&#233;&#xe9;"), "\xf0\x9f\x98\x80\xc3\xa9\xc3\xa9");
  EXPECT_EQ(only_key("&lt;&gt;&amp;&quot;&apos;"), "<>&\"'");
  EXPECT_EQ(only_key("<![CDATA[a<b&c]]>"), "a<b&c");
  EXPECT_EQ(only_key("a<!-- comment -->b"), "ab");
  // XML 1.0 line-end normalisation: a literal CR (or CRLF) is a LF; S3 asks for &#13; instead.
  EXPECT_EQ(only_key("a\r\nb\rc"), "a\nb\nc");
}

TEST(DeleteObjects, AcceptsPrologCommentsAndUnknownElements) {
  std::string body =
      "\xEF\xBB\xBF<?xml version=\"1.0\"?>\n<!-- hi -->\n<Delete>\n  <Object>\n    <Key>k</Key>\n"
      "    <ETag>\"x\"</ETag><Size>3</Size>\n  </Object>\n  <Future attr='1'/>\n</Delete>\n";
  auto parsed = parse_delete_objects(body);
  ASSERT_EQ(parsed.objects.size(), 1u);
  EXPECT_EQ(parsed.objects[0].key, "k");
}

TEST(DeleteObjects, ObjectCountBounds) {
  std::string thousand, thousand_and_one;
  for (int i = 0; i < 1000; ++i) thousand += key_object(std::to_string(i));
  thousand_and_one = thousand + key_object("one-too-many");
  EXPECT_EQ(parse_delete_objects(delete_body(thousand)).objects.size(), 1000u);
  expect_xml_error(delete_body(thousand_and_one), "more than 1000 objects");
  expect_xml_error(delete_body(""), "names no <Object>");
}

TEST(DeleteObjects, RejectsMalformedDocuments) {
  expect_xml_error("", "no root element");
  expect_xml_error("   ", "no root element");
  expect_xml_error("not xml", "malformed XML");
  expect_xml_error("<Delete><Object><Key>k</Key></Object>", "malformed XML");           // unclosed
  expect_xml_error("<Delete><Object><Key>k</Object></Key></Delete>", "malformed XML");  // crossed
  expect_xml_error("<Delete><Object><Key>k</Key></Objekt></Delete>",
                   "malformed XML");  // wrong name
  expect_xml_error("<Remove>" + key_object("k") + "</Remove>", "expected <Delete>");
  expect_xml_error(delete_body(key_object("k")) + "<Delete/>", "more than one root");
  expect_xml_error(delete_body(key_object("k")) + "trailing", "malformed XML");
  expect_xml_error(delete_body("<Object><VersionId>v</VersionId></Object>"), "without <Key>");
  expect_xml_error(delete_body("<Object><Key>a</Key><Key>b</Key></Object>"), "more than once");
  expect_xml_error(delete_body("<Object><Key>a<b/></Key></Object>"), "unexpected element <b>");
  expect_xml_error("<Delete><Object><Key a=\"1>k</Key></Object></Delete>", "attribute value");
  expect_xml_error("<Delete><Object", "unterminated start tag");
  expect_xml_error("<Delete><Object></Delete", "unterminated end tag");
}

TEST(DeleteObjects, RejectsBadReferencesAndCharacters) {
  expect_xml_error(delete_body(key_object("a&b")), "entity reference");
  expect_xml_error(delete_body(key_object("&nbsp;")), "entity reference");
  expect_xml_error(delete_body(key_object("&amp")), "entity reference");
  expect_xml_error(delete_body(key_object("&#;")), "character reference");
  expect_xml_error(delete_body(key_object("&#x;")), "character reference");
  expect_xml_error(delete_body(key_object("&#0;")), "character reference");        // NUL
  expect_xml_error(delete_body(key_object("&#x1;")), "character reference");       // not XML 1.0
  expect_xml_error(delete_body(key_object("&#xD800;")), "character reference");    // surrogate
  expect_xml_error(delete_body(key_object("&#x110000;")), "character reference");  // > U+10FFFF
  expect_xml_error(delete_body(key_object("&#X41;")), "character reference");      // upper-case X
  expect_xml_error(delete_body(key_object("&#x10000000000000041;")), "character reference");
  expect_xml_error(delete_body(key_object("&#99999999999;")), "character reference");
  expect_xml_error(delete_body(key_object("&#12a;")), "character reference");
  expect_xml_error(delete_body(key_object(std::string("a\x01"
                                                      "b"))),
                   "control character");
  expect_xml_error(delete_body(key_object(std::string("a\0b", 3))), "NUL byte");
  expect_xml_error(delete_body(key_object("\xc3\x28")), "not valid UTF-8");
  expect_xml_error(delete_body(key_object("\xed\xa0\x80")), "not valid UTF-8");  // CESU surrogate
  expect_xml_error("<Delete attr=\"&bogus;\">" + key_object("k") + "</Delete>", "entity reference");
}

TEST(DeleteObjects, RefusesHostileDocuments) {
  // DTDs (and so entity expansion, "billion laughs") are refused outright.
  expect_xml_error(
      "<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;\">]>"
      "<Delete><Object><Key>&b;</Key></Object></Delete>",
      "DOCTYPE");
  // Deep nesting is refused before the recursive parser sees it.
  std::string deep = "<Delete>";
  for (int i = 0; i < 100000; ++i) deep += "<a>";
  expect_xml_error(deep, "nested deeper than 32");
  std::string ok_depth = "<Delete>" + key_object("k") + "<x>";
  for (int i = 0; i < 29; ++i) ok_depth += "<a>";
  for (int i = 0; i < 29; ++i) ok_depth += "</a>";
  ok_depth += "</x></Delete>";
  EXPECT_EQ(parse_delete_objects(ok_depth).objects.size(), 1u);
  // Too many tags (each costs the parser a node) and too many bytes.
  std::string many = "<Delete>" + key_object("k");
  for (int i = 0; i < 200001; ++i) many += "<a/>";
  expect_xml_error(many + "</Delete>", "more than 200000 tags");
  expect_xml_error(std::string(kMaxXmlBodyBytes + 1, ' '), "larger than");
  expect_xml_error("<Delete><!-- never closed", "unterminated comment");
  expect_xml_error("<Delete><![CDATA[ never closed", "unterminated CDATA");
}

// --- CompleteMultipartUpload ---------------------------------------------------------------------

TEST(CompleteMultipartUpload, ParsesPartsWithChecksums) {
  auto parts = parse_complete_multipart_upload(
      std::string(kProlog) +
      R"(<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)"
      R"(<Part><ETag>"0cc175b9c0f1b6a831c399e269772661"</ETag><PartNumber>1</PartNumber>)"
      R"(<ChecksumCRC32>6Le+Qw==</ChecksumCRC32><ChecksumCRC64NVME>rosUhgp5mIg=</ChecksumCRC64NVME></Part>)"
      R"(<Part><PartNumber> 2 </PartNumber><ETag>  "abc" </ETag><ChecksumType>FULL_OBJECT</ChecksumType></Part>)"
      R"(</CompleteMultipartUpload>)");
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].part_number, 1);
  EXPECT_EQ(parts[0].etag, "\"0cc175b9c0f1b6a831c399e269772661\"");
  ASSERT_EQ(parts[0].checksums.size(), 2u);
  EXPECT_EQ(parts[0].checksums.at(ChecksumAlgorithm::crc32), "6Le+Qw==");
  EXPECT_EQ(parts[0].checksums.at(ChecksumAlgorithm::crc64nvme), "rosUhgp5mIg=");
  EXPECT_EQ(parts[1].part_number, 2);
  EXPECT_EQ(parts[1].etag, "\"abc\"");
  EXPECT_TRUE(parts[1].checksums.empty());
}

TEST(CompleteMultipartUpload, EtagQuotesAreKeptAsSent) {
  auto parts = parse_complete_multipart_upload(
      "<CompleteMultipartUpload><Part><PartNumber>3</PartNumber><ETag>&quot;abc&quot;</ETag></Part>"
      "<Part><PartNumber>4</PartNumber><ETag>abc</ETag></Part></CompleteMultipartUpload>");
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].etag, "\"abc\"");
  EXPECT_EQ(parts[1].etag, "abc");
}

TEST(CompleteMultipartUpload, PartNumberSyntax) {
  auto body = [](std::string_view number) {
    return "<CompleteMultipartUpload><Part><PartNumber>" + std::string(number) +
           "</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>";
  };
  EXPECT_EQ(parse_complete_multipart_upload(body("10000"))[0].part_number, 10000);
  EXPECT_EQ(parse_complete_multipart_upload(body("0"))[0].part_number, 0);  // range: the handler's
  EXPECT_EQ(parse_complete_multipart_upload(body("2147483647"))[0].part_number, 2147483647);
  for (auto bad : {"", "x", "-1", "+1", "1.0", "1e3", "2147483648", "99999999999999999999"}) {
    EXPECT_THROW(parse_complete_multipart_upload(body(bad)), S3XmlError) << bad;
  }
}

TEST(CompleteMultipartUpload, StructureErrors) {
  auto parse = [](std::string_view parts) {
    return parse_complete_multipart_upload("<CompleteMultipartUpload>" + std::string(parts) +
                                           "</CompleteMultipartUpload>");
  };
  EXPECT_TRUE(parse("").empty());  // the handler answers "at least one part"
  EXPECT_THROW(parse("<Part><ETag>e</ETag></Part>"), S3XmlError);
  EXPECT_THROW(parse("<Part><PartNumber>1</PartNumber></Part>"), S3XmlError);
  EXPECT_THROW(
      parse("<Part><PartNumber>1</PartNumber><PartNumber>2</PartNumber><ETag>e</ETag></Part>"),
      S3XmlError);
  EXPECT_THROW(
      parse("<Part><PartNumber>1</PartNumber><ETag>e</ETag><ChecksumCRC32>a</ChecksumCRC32>"
            "<ChecksumCRC32>b</ChecksumCRC32></Part>"),
      S3XmlError);
  EXPECT_THROW(parse_complete_multipart_upload("<CompleteMultipart/>"), S3XmlError);
}

TEST(CompleteMultipartUpload, PartCountBound) {
  std::string parts;
  for (int i = 1; i <= 10000; ++i) {
    parts += "<Part><PartNumber>" + std::to_string(i) + "</PartNumber><ETag>\"e\"</ETag></Part>";
  }
  std::string body = "<CompleteMultipartUpload>" + parts + "</CompleteMultipartUpload>";
  auto parsed = parse_complete_multipart_upload(body);
  ASSERT_EQ(parsed.size(), 10000u);
  EXPECT_EQ(parsed.back().part_number, 10000);
  std::string over =
      "<CompleteMultipartUpload>" + parts +
      "<Part><PartNumber>1</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>";
  EXPECT_THROW(parse_complete_multipart_upload(over), S3XmlError);
}

// --- CreateBucketConfiguration -------------------------------------------------------------------

TEST(CreateBucketConfiguration, LocationConstraint) {
  EXPECT_EQ(parse_create_bucket_configuration(""), std::nullopt);
  EXPECT_EQ(parse_create_bucket_configuration(" \r\n"), std::nullopt);
  EXPECT_EQ(parse_create_bucket_configuration(
                std::string(kProlog) +
                R"(<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)"
                "<LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>"),
            std::optional<std::string>("eu-west-1"));
  EXPECT_EQ(parse_create_bucket_configuration(
                "<CreateBucketConfiguration><LocationConstraint/></CreateBucketConfiguration>"),
            std::nullopt);
  EXPECT_EQ(parse_create_bucket_configuration("<CreateBucketConfiguration/>"), std::nullopt);
  EXPECT_EQ(parse_create_bucket_configuration(
                "<CreateBucketConfiguration><Bucket><Type>Directory</Type></Bucket>"
                "<LocationConstraint> us-west-2 </LocationConstraint></CreateBucketConfiguration>"),
            std::optional<std::string>("us-west-2"));
  EXPECT_THROW(parse_create_bucket_configuration("<CreateBucket/>"), S3XmlError);
  EXPECT_THROW(parse_create_bucket_configuration("<CreateBucketConfiguration>"), S3XmlError);
  EXPECT_THROW(parse_create_bucket_configuration(
                   "<CreateBucketConfiguration><LocationConstraint>a</LocationConstraint>"
                   "<LocationConstraint>b</LocationConstraint></CreateBucketConfiguration>"),
               S3XmlError);
}
