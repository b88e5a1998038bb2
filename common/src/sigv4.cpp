#include "stratus/common/sigv4.hpp"

#include "stratus/common/hex.hpp"
#include "stratus/common/sha256.hpp"
#include "stratus/common/utc_time.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <vector>

namespace stratus::aws {

namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Header values are trimmed and runs of spaces folded, as the canonical form requires.
std::string canonical_value(std::string_view v) {
  std::string out;
  bool pending_space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

bool is_unsigned_by_clients(std::string_view name) {
  static constexpr std::string_view skipped[] = {"authorization", "user-agent", "expect",
                                                 "x-amzn-trace-id", "connection", "content-length",
                                                 "transfer-encoding"};
  return std::find(std::begin(skipped), std::end(skipped), name) != std::end(skipped);
}

// Removes "." and ".." segments (RFC 3986 5.2.4), as AWS clients do before signing.
std::string remove_dot_segments(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto slash = path.find('/', start);
    auto seg = path.substr(start, slash == std::string_view::npos ? path.npos : slash - start);
    if (seg == "..") {
      if (!out.empty()) out.pop_back();
    } else if (seg != "." && !seg.empty()) {
      out.push_back(seg);
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  std::string result = "/";
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (i) result += "/";
    result += out[i];
  }
  if (path.size() > 1 && path.back() == '/' && !out.empty()) result += "/";
  return result;
}

std::string canonical_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (auto [key, value] : split_query(query)) {
    // Normalise whatever encoding the sender chose into AWS's: decode, then encode.
    auto k = percent_decode(key, true);
    auto v = percent_decode(value, true);
    pairs.emplace_back(uri_encode(k ? *k : std::string(key), false),
                       uri_encode(v ? *v : std::string(value), false));
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [k, v] : pairs) {
    if (!out.empty()) out += "&";
    out += k + "=" + v;
  }
  return out;
}

std::string signing_key(const std::string& secret, std::string_view date, std::string_view region,
                        std::string_view service) {
  std::string k = hmac_sha256("AWS4" + secret, date);
  k = hmac_sha256(k, region);
  k = hmac_sha256(k, service);
  return hmac_sha256(k, "aws4_request");
}

std::string string_to_sign(std::string_view timestamp, std::string_view scope,
                           const std::string& canonical_request) {
  return std::string(kAlgorithm) + "\n" + std::string(timestamp) + "\n" + std::string(scope) + "\n" +
         sha256_hex(canonical_request);
}

std::optional<std::time_t> parse_amz_date(std::string_view s) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
  std::tm tm{};
  std::string str(s);
  if (!strptime(str.c_str(), "%Y%m%dT%H%M%SZ", &tm)) return std::nullopt;
  return timegm(&tm);
}

}  // namespace

std::string to_hex(std::string_view bytes) { return stratus::to_hex(bytes); }

std::string sha256_hex(std::string_view data) { return stratus::to_hex(sha256_digest(data)); }

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string amz_date(std::chrono::system_clock::time_point t) { return format_utc(t, "%Y%m%dT%H%M%SZ"); }

std::string uri_encode(std::string_view in, bool keep_slash) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(in.size());
  for (unsigned char c : in) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(digits[c >> 4]);
      out.push_back(digits[c & 0xf]);
    }
  }
  return out;
}

CanonicalParts canonicalize(const HttpRequestHead& request, std::string_view payload_hash,
                            PathEncoding path_encoding, std::string_view signed_header_names) {
  auto [path, query] = split_target(request.target);
  std::string canonical_path;
  if (path_encoding == PathEncoding::AsIs) {
    canonical_path = path.empty() ? "/" : std::string(path);
  } else {
    canonical_path = uri_encode(remove_dot_segments(path.empty() ? "/" : path), true);
  }

  // name -> values, in the order they appear (repeated headers are joined with ',').
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& f : request.headers.fields()) {
    std::string name = lower(f.name);
    auto it = std::find_if(headers.begin(), headers.end(), [&](const auto& h) { return h.first == name; });
    if (it == headers.end()) {
      headers.emplace_back(name, canonical_value(f.value));
    } else {
      it->second.push_back(',');
      it->second.append(canonical_value(f.value));
    }
  }
  std::vector<std::string> wanted;
  if (!signed_header_names.empty()) {
    std::string_view rest = signed_header_names;
    while (!rest.empty()) {
      auto semi = rest.find(';');
      wanted.emplace_back(rest.substr(0, semi));
      rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
    }
  } else {
    for (const auto& [name, _] : headers) {
      if (!is_unsigned_by_clients(name)) wanted.push_back(name);
    }
  }
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());

  CanonicalParts parts;
  std::string canonical_headers;
  for (const auto& name : wanted) {
    auto it = std::find_if(headers.begin(), headers.end(), [&](const auto& h) { return h.first == name; });
    canonical_headers += name + ":" + (it == headers.end() ? std::string() : it->second) + "\n";
    if (!parts.signed_headers.empty()) parts.signed_headers += ";";
    parts.signed_headers += name;
  }
  parts.canonical_request = request.method + "\n" + canonical_path + "\n" + canonical_query(query) + "\n" +
                            canonical_headers + "\n" + parts.signed_headers + "\n" +
                            std::string(payload_hash);
  return parts;
}

namespace {

void sign_impl(HttpRequest& request, const Credentials& credentials, const SigningScope& scope,
               std::chrono::system_clock::time_point now, const std::string& payload_hash,
               bool send_content_sha256) {
  std::string timestamp = amz_date(now);
  std::string date = timestamp.substr(0, 8);
  request.headers.set("X-Amz-Date", timestamp);
  if (!credentials.session_token.empty()) {
    request.headers.set("X-Amz-Security-Token", credentials.session_token);
  }
  if (send_content_sha256) request.headers.set("X-Amz-Content-Sha256", payload_hash);
  auto encoding = scope.service == "s3" ? PathEncoding::AsIs : PathEncoding::EncodeAgain;
  CanonicalParts parts = canonicalize(request, payload_hash, encoding);
  std::string credential_scope = date + "/" + scope.region + "/" + scope.service + "/aws4_request";
  std::string signature = to_hex(hmac_sha256(
      signing_key(credentials.secret_access_key, date, scope.region, scope.service),
      string_to_sign(timestamp, credential_scope, parts.canonical_request)));
  request.headers.set("Authorization", std::string(kAlgorithm) + " Credential=" + credentials.access_key_id +
                                           "/" + credential_scope + ", SignedHeaders=" +
                                           parts.signed_headers + ", Signature=" + signature);
}

}  // namespace

void sign(HttpRequest& request, const Credentials& credentials, const SigningScope& scope,
          std::chrono::system_clock::time_point now, bool send_content_sha256) {
  sign_impl(request, credentials, scope, now, sha256_hex(request.body), send_content_sha256);
}

void sign_with_payload_hash(HttpRequest& request, const Credentials& credentials,
                            const SigningScope& scope, std::chrono::system_clock::time_point now,
                            std::string_view payload_hash) {
  sign_impl(request, credentials, scope, now, std::string(payload_hash), true);
}

std::optional<AuthorizationHeader> parse_authorization(std::string_view header) {
  if (header.substr(0, kAlgorithm.size()) != kAlgorithm) return std::nullopt;
  header.remove_prefix(kAlgorithm.size());
  AuthorizationHeader auth;
  std::string credential;
  while (!header.empty()) {
    auto comma = header.find(',');
    std::string_view part = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    auto eq = part.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    std::string_view key = part.substr(0, eq);
    std::string value(part.substr(eq + 1));
    if (key == "Credential") credential = value;
    else if (key == "SignedHeaders") auth.signed_headers = value;
    else if (key == "Signature") auth.signature = value;
  }
  // Credential = AKID/yyyymmdd/region/service/aws4_request
  std::vector<std::string> scope;
  std::size_t start = 0;
  while (true) {
    auto slash = credential.find('/', start);
    scope.push_back(credential.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (scope.size() != 5 || scope[4] != "aws4_request" || scope[0].empty() || scope[1].size() != 8 ||
      auth.signed_headers.empty() || auth.signature.size() != 64) {
    return std::nullopt;
  }
  auth.access_key_id = scope[0];
  auth.date = scope[1];
  auth.region = scope[2];
  auth.service = scope[3];
  return auth;
}

const char* to_string(VerifyResult r) {
  switch (r) {
    case VerifyResult::Ok: return "ok";
    case VerifyResult::Missing: return "missing";
    case VerifyResult::Malformed: return "malformed";
    case VerifyResult::UnknownKey: return "unknown access key";
    case VerifyResult::Expired: return "expired";
    case VerifyResult::Mismatch: return "signature mismatch";
  }
  return "unknown";
}

VerifyResult verify_with_secret(const HttpRequestHead& request, std::string_view body,
                                const AuthorizationHeader& auth, const std::string& secret,
                                std::chrono::system_clock::time_point now) {
  const std::string* timestamp = request.headers.find("X-Amz-Date");
  if (!timestamp) return VerifyResult::Malformed;
  auto when = parse_amz_date(*timestamp);
  if (!when || timestamp->substr(0, 8) != auth.date) return VerifyResult::Malformed;
  auto skew = std::chrono::system_clock::to_time_t(now) - *when;
  if (skew > 15 * 60 || skew < -15 * 60) return VerifyResult::Expired;
  // The signed headers must include host; a signature over fewer headers proves too little.
  if ((";" + auth.signed_headers + ";").find(";host;") == std::string::npos) return VerifyResult::Malformed;
  std::string payload_hash = request.headers.get("X-Amz-Content-Sha256");
  if (payload_hash.empty()) payload_hash = sha256_hex(body);
  auto encoding = auth.service == "s3" ? PathEncoding::AsIs : PathEncoding::EncodeAgain;
  CanonicalParts parts = canonicalize(request, payload_hash, encoding, auth.signed_headers);
  std::string scope = auth.date + "/" + auth.region + "/" + auth.service + "/aws4_request";
  std::string expected = to_hex(hmac_sha256(signing_key(secret, auth.date, auth.region, auth.service),
                                            string_to_sign(*timestamp, scope, parts.canonical_request)));
  if (expected.size() != auth.signature.size() ||
      CRYPTO_memcmp(expected.data(), auth.signature.data(), expected.size()) != 0) {
    return VerifyResult::Mismatch;
  }
  return VerifyResult::Ok;
}

}  // namespace stratus::aws
