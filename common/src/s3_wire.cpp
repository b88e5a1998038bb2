#include "stratus/common/s3_wire.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <cctype>
#include <charconv>
#include <sstream>
#include <stdexcept>

#include "stratus/common/http_message.hpp"
#include "stratus/common/sigv4.hpp"

namespace stratus::aws::s3 {

namespace pt = boost::property_tree;

namespace {

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool is_ip_address(const std::string& host) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  return !ec;
}

// One DNS label of a bucket name: 1-63 of [a-z0-9-], no hyphen at either end.
bool valid_label(std::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  if (!is_lower_alnum(label.front()) || !is_lower_alnum(label.back())) return false;
  for (char c : label) {
    if (!is_lower_alnum(c) && c != '-') return false;
  }
  return true;
}

[[noreturn]] void malformed(const std::string& what) {
  throw S3Error("malformed S3 response: " + what, 200, "MalformedResponse");
}

// Deepest element nesting of an XML text, counted from its tags without parsing it. Comments,
// CDATA and processing instructions are not understood: tags inside them count too, which can only
// overestimate. Closing tags never take the count below zero, so surplus ones cannot bank depth.
int nesting_depth(std::string_view xml, int give_up_above) {
  int depth = 0;
  int deepest = 0;
  for (std::size_t i = 0; i < xml.size(); ++i) {
    if (xml[i] != '<' || i + 1 >= xml.size()) continue;
    char next = xml[i + 1];
    if (next == '/') {
      if (depth > 0) --depth;
      continue;
    }
    if (next == '!' || next == '?') continue;
    // An opening tag: find its end (quoted attribute values may contain '>').
    std::size_t j = i + 1;
    char quote = 0;
    for (; j < xml.size(); ++j) {
      char c = xml[j];
      if (quote) {
        if (c == quote) quote = 0;
      } else if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == '>') {
        break;
      }
    }
    bool self_closing = j < xml.size() && xml[j - 1] == '/';
    if (!self_closing && ++depth > deepest) {
      deepest = depth;
      if (deepest > give_up_above) return deepest;
    }
    i = j;
  }
  return deepest;
}

pt::ptree parse_xml(std::string_view body) {
  // S3 sends whitespace ahead of a CompleteMultipartUpload document while it assembles the object;
  // the XML declaration would otherwise not be at the start.
  auto start = body.find_first_not_of(" \t\r\n");
  body.remove_prefix(start == std::string_view::npos ? body.size() : start);
  if (nesting_depth(body, kMaxXmlDepth) > kMaxXmlDepth) {
    malformed("XML nested deeper than " + std::to_string(kMaxXmlDepth) + " levels");
  }
  std::istringstream in{std::string(body)};
  pt::ptree tree;
  try {
    pt::read_xml(in, tree);  // no trimming: keys may begin or end with spaces
  } catch (const pt::xml_parser_error& e) {
    malformed(std::string("not XML: ") + e.message() + " at line " + std::to_string(e.line()));
  }
  return tree;
}

// The root element, which must be named `name` (or `alias`).
const pt::ptree& root(const pt::ptree& doc, const char* name, const char* alias = nullptr) {
  for (const auto& [element, child] : doc) {
    if (element == "<xmlcomment>") continue;
    if (element != name && (!alias || element != alias)) {
      malformed(std::string("expected <") + name + ">, got <" + element + ">");
    }
    return child;
  }
  malformed(std::string("expected <") + name + ">, got an empty document");
}

std::string text(const pt::ptree& node, const char* child) {
  auto found = node.get_child_optional(pt::ptree::path_type(child, '\0'));
  return found ? found->data() : std::string();
}

std::uint64_t number(const pt::ptree& node, const char* child) {
  std::string value = text(node, child);
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc{} || end != value.data() + value.size()) {
    malformed(std::string("<") + child + "> is not a number: '" + value + "'");
  }
  return n;
}

bool url_encoded(const pt::ptree& result) {
  return text(result, "EncodingType") == "url";
}

std::string decoded(std::string value, bool encoded) {
  if (!encoded) return value;
  auto out = percent_decode(value, true);
  if (!out) malformed("bad percent-encoding in '" + value + "'");
  return *out;
}

}  // namespace

// ---- Addressing ----

bool is_dns_compatible_bucket(std::string_view bucket, bool allow_dots) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  if (is_ip_address(std::string(bucket))) return false;
  if (!allow_dots) return valid_label(bucket);
  std::size_t start = 0;
  while (true) {
    auto dot = bucket.find('.', start);
    if (!valid_label(bucket.substr(start, dot == std::string_view::npos ? dot : dot - start))) {
      return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool is_aws_endpoint(const Endpoint& endpoint) {
  if (is_ip_address(endpoint.host)) return false;
  return ends_with(endpoint.host, ".amazonaws.com") ||
         ends_with(endpoint.host, ".amazonaws.com.cn");
}

bool use_virtual_host(const Endpoint& endpoint, S3AddressingStyle style, std::string_view bucket) {
  if (style == S3AddressingStyle::Path || is_ip_address(endpoint.host)) return false;
  if (style == S3AddressingStyle::Auto && !is_aws_endpoint(endpoint)) return false;
  // A dotted name would not match the *.s3.region.amazonaws.com certificate.
  return is_dns_compatible_bucket(bucket, !endpoint.tls());
}

std::string encode_key(std::string_view key) {
  return uri_encode(key, true);
}

std::string encode_query(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += '&';
    out += uri_encode(name, false);
    if (!value.empty()) {
      out += '=';
      out += uri_encode(value, false);
    }
  }
  return out;
}

RequestLocation locate(const Endpoint& endpoint, S3AddressingStyle style, std::string_view bucket,
                       std::string_view key, std::string_view query) {
  for (char c : bucket) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
    if (!ok) throw std::invalid_argument("invalid S3 bucket name '" + std::string(bucket) + "'");
  }
  if (bucket.size() > 255) throw std::invalid_argument("S3 bucket name too long");
  if (bucket.empty() && !key.empty()) throw std::invalid_argument("S3 key without a bucket");
  RequestLocation out;
  out.endpoint = endpoint;
  // Appended piece by piece (GCC 12 misreports `"/" + std::string` under -O3 as -Wrestrict).
  std::string& target = out.target;
  target = endpoint.path;
  if (!bucket.empty() && use_virtual_host(endpoint, style, bucket)) {
    out.endpoint.host.insert(0, ".");
    out.endpoint.host.insert(0, bucket);
    target += '/';
    target += encode_key(key);
  } else if (!bucket.empty()) {
    target += '/';
    target += bucket;
    if (!key.empty()) {
      target += '/';
      target += encode_key(key);
    }
  } else {
    target += '/';
  }
  if (!query.empty()) {
    target += '?';
    target += query;
  }
  return out;
}

// ---- XML responses ----

std::optional<ErrorDocument> parse_error(std::string_view body) {
  // Cheap refusals first: most error bodies that are not XML are empty (HEAD) or JSON/HTML.
  std::size_t first = body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || body[first] != '<') return std::nullopt;
  pt::ptree doc;
  try {
    doc = parse_xml(body);
  } catch (const S3Error&) {
    return std::nullopt;
  }
  auto error = doc.get_child_optional("Error");
  if (!error) return std::nullopt;
  ErrorDocument out;
  out.code = text(*error, "Code");
  out.message = text(*error, "Message");
  out.request_id = text(*error, "RequestId");
  out.host_id = text(*error, "HostId");
  out.region = text(*error, "Region");
  out.endpoint = text(*error, "Endpoint");
  if (out.code.empty()) return std::nullopt;
  return out;
}

S3ListPage parse_list_objects_v2(std::string_view body) {
  pt::ptree doc = parse_xml(body);
  const pt::ptree& result = root(doc, "ListBucketResult");
  bool encoded = url_encoded(result);
  S3ListPage page;
  for (const auto& [name, child] : result) {
    if (name == "Contents") {
      S3ObjectInfo info;
      info.key = decoded(text(child, "Key"), encoded);
      if (info.key.empty()) malformed("<Contents> without <Key>");
      info.size = number(child, "Size");
      info.etag = text(child, "ETag");
      info.last_modified = text(child, "LastModified");
      page.objects.push_back(std::move(info));
    } else if (name == "CommonPrefixes") {
      page.common_prefixes.push_back(decoded(text(child, "Prefix"), encoded));
    }
  }
  std::string truncated = text(result, "IsTruncated");
  if (truncated != "true" && truncated != "false" && !truncated.empty()) {
    malformed("<IsTruncated> is '" + truncated + "'");
  }
  page.truncated = truncated == "true";
  page.next_continuation_token = text(result, "NextContinuationToken");
  return page;
}

std::string parse_initiate_multipart_upload(std::string_view body) {
  pt::ptree doc = parse_xml(body);
  std::string id = text(root(doc, "InitiateMultipartUploadResult"), "UploadId");
  if (id.empty()) malformed("InitiateMultipartUploadResult without <UploadId>");
  return id;
}

std::string parse_complete_multipart_upload(std::string_view body) {
  pt::ptree doc = parse_xml(body);
  // moto names the root CompleteMultipartUploadResponse; S3 and its API reference say ...Result.
  std::string etag =
      text(root(doc, "CompleteMultipartUploadResult", "CompleteMultipartUploadResponse"), "ETag");
  if (etag.empty()) malformed("CompleteMultipartUploadResult without <ETag>");
  return etag;
}

std::vector<S3MultipartUploadInfo> parse_list_multipart_uploads(std::string_view body) {
  pt::ptree doc = parse_xml(body);
  const pt::ptree& result = root(doc, "ListMultipartUploadsResult");
  bool encoded = url_encoded(result);
  std::vector<S3MultipartUploadInfo> uploads;
  for (const auto& [name, child] : result) {
    if (name != "Upload") continue;
    S3MultipartUploadInfo info;
    info.key = decoded(text(child, "Key"), encoded);
    info.upload_id = text(child, "UploadId");
    info.initiated = text(child, "Initiated");
    if (info.key.empty() || info.upload_id.empty())
      malformed("<Upload> without <Key> or <UploadId>");
    uploads.push_back(std::move(info));
  }
  return uploads;
}

// ---- XML requests ----


std::string complete_multipart_upload_body(const std::vector<std::string>& etags) {
  std::string out = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
  for (std::size_t i = 0; i < etags.size(); ++i) {
    out += "<Part><ETag>" + xml_escape(etags[i]) + "</ETag><PartNumber>" + std::to_string(i + 1) +
           "</PartNumber></Part>";
  }
  out += "</CompleteMultipartUpload>";
  return out;
}

std::string create_bucket_body(std::string_view region) {
  if (region.empty() || region == "us-east-1") return {};
  return "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
         "<LocationConstraint>" +
         xml_escape(region) + "</LocationConstraint></CreateBucketConfiguration>";
}

// ---- Parts and ranges ----

std::uint64_t PartPlan::size(std::uint32_t index) const {
  std::uint64_t start = offset(index);
  if (start >= object_size) return 0;
  return std::min(part_size, object_size - start);
}

PartPlan plan_parts(std::uint64_t object_size, std::uint64_t preferred_part_size) {
  PartPlan plan;
  plan.object_size = object_size;
  plan.part_size = std::clamp(preferred_part_size, kMinPartSize, kMaxPartSize);
  auto parts_of = [&](std::uint64_t part) { return (object_size + part - 1) / part; };
  if (parts_of(plan.part_size) > kMaxParts) {
    constexpr std::uint64_t MiB = 1 << 20;
    std::uint64_t needed = (object_size + kMaxParts - 1) / kMaxParts;
    plan.part_size = (needed + MiB - 1) / MiB * MiB;
    if (plan.part_size > kMaxPartSize) {
      throw std::invalid_argument("object of " + std::to_string(object_size) +
                                  " bytes is larger than S3's maximum (10,000 parts of 5 GiB)");
    }
  }
  plan.count = static_cast<std::uint32_t>(std::max<std::uint64_t>(1, parts_of(plan.part_size)));
  return plan;
}

std::string range_header(std::uint64_t offset, std::uint64_t length) {
  return "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + length - 1);
}

std::optional<ContentRange> parse_content_range(std::string_view value) {
  constexpr std::string_view unit = "bytes ";
  if (value.substr(0, unit.size()) != unit) return std::nullopt;
  value.remove_prefix(unit.size());
  auto read = [&](std::uint64_t& out, char stop) {
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
    if (ec != std::errc{} || end == value.data()) return false;
    value.remove_prefix(static_cast<std::size_t>(end - value.data()));
    if (stop == 0) return value.empty();
    if (value.empty() || value.front() != stop) return false;
    value.remove_prefix(1);
    return true;
  };
  ContentRange range;
  if (!read(range.first, '-') || !read(range.last, '/') || !read(range.total, 0))
    return std::nullopt;
  if (range.first > range.last || range.last >= range.total) return std::nullopt;
  return range;
}

// ---- Digests ----

std::string md5(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_md5(), nullptr) != 1) {
    throw std::runtime_error("MD5 failed");
  }
  return std::string(reinterpret_cast<const char*>(digest), length);
}

std::string md5_hex(std::string_view data) {
  return to_hex(md5(data));
}

std::string multipart_etag(const std::vector<std::string>& part_md5s) {
  std::string joined;
  joined.reserve(part_md5s.size() * 16);
  for (const auto& digest : part_md5s) joined += digest;
  return md5_hex(joined) + "-" + std::to_string(part_md5s.size());
}

std::string_view unquote_etag(std::string_view etag) {
  if (etag.substr(0, 2) == "W/") etag.remove_prefix(2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return etag;
}

}  // namespace stratus::aws::s3
