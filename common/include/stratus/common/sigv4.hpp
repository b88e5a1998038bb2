#pragma once
// AWS Signature Version 4: signing requests (trainer, S3 client) and verifying them (emulator).
// One canonicalisation serves both sides so they cannot drift apart.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "stratus/common/http_message.hpp"

namespace stratus::aws {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty unless temporary credentials
};

std::string sha256_hex(std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);  // raw bytes
std::string to_hex(std::string_view bytes);

// "20150830T123600Z"
std::string amz_date(std::chrono::system_clock::time_point t);

// S3 signs the path as sent; every other service URI-encodes each segment once more.
enum class PathEncoding { EncodeAgain, AsIs };

// AWS's URI encoding: unreserved characters (A-Z a-z 0-9 - _ . ~) stay, everything else is %XX
// (upper case); '/' stays when `keep_slash`.
std::string uri_encode(std::string_view in, bool keep_slash);

struct CanonicalParts {
  std::string canonical_request;
  std::string signed_headers;  // "host;x-amz-date"
};

// Builds the canonical request. `signed_header_names` lists the headers to sign (lower case,
// ';'-separated, sorted) or is empty to sign every header present except the ones AWS clients
// leave out (user-agent, expect, authorization, ...). `payload_hash` is the hex SHA-256 of the body
// or the literal x-amz-content-sha256 value (UNSIGNED-PAYLOAD, STREAMING-...).
CanonicalParts canonicalize(const HttpRequestHead& request, std::string_view payload_hash,
                            PathEncoding path_encoding, std::string_view signed_header_names = {});

struct SigningScope {
  std::string region;
  std::string service;
};

// Adds X-Amz-Date, X-Amz-Security-Token (if any), X-Amz-Content-Sha256 (when
// `send_content_sha256`, as S3 requires) and Authorization to `request`. The Host header must
// already be set.
void sign(HttpRequest& request, const Credentials& credentials, const SigningScope& scope,
          std::chrono::system_clock::time_point now, bool send_content_sha256 = false);

// As sign() with `send_content_sha256`, for a body whose hash is known already: `payload_hash` is
// the hex SHA-256 of the body, or a literal such as "UNSIGNED-PAYLOAD". Lets a large body be hashed
// once, off the I/O thread, instead of on every (re)signing attempt.
void sign_with_payload_hash(HttpRequest& request, const Credentials& credentials,
                            const SigningScope& scope, std::chrono::system_clock::time_point now,
                            std::string_view payload_hash);

// What an Authorization header says.
struct AuthorizationHeader {
  std::string access_key_id;
  std::string date;  // yyyymmdd
  std::string region;
  std::string service;
  std::string signed_headers;
  std::string signature;
};
std::optional<AuthorizationHeader> parse_authorization(std::string_view header);

enum class VerifyResult {
  Ok,
  Missing,          // no Authorization header
  Malformed,        // Authorization or X-Amz-Date unreadable
  UnknownKey,       // access key not accepted
  Expired,          // X-Amz-Date more than 15 minutes away from now
  Mismatch,         // the signature does not match
};
const char* to_string(VerifyResult r);

// Verifies a signed request. `secret_for` returns the secret for an access key id, or nullopt.
template <typename SecretLookup>
VerifyResult verify(const HttpRequestHead& request, std::string_view body, SecretLookup&& secret_for,
                    std::chrono::system_clock::time_point now);

// Non-template core of verify().
VerifyResult verify_with_secret(const HttpRequestHead& request, std::string_view body,
                                const AuthorizationHeader& auth, const std::string& secret,
                                std::chrono::system_clock::time_point now);

template <typename SecretLookup>
VerifyResult verify(const HttpRequestHead& request, std::string_view body, SecretLookup&& secret_for,
                    std::chrono::system_clock::time_point now) {
  const std::string* header = request.headers.find("Authorization");
  if (!header) return VerifyResult::Missing;
  auto auth = parse_authorization(*header);
  if (!auth) return VerifyResult::Malformed;
  std::optional<std::string> secret = secret_for(auth->access_key_id);
  if (!secret) return VerifyResult::UnknownKey;
  return verify_with_secret(request, body, *auth, *secret, now);
}

}  // namespace stratus::aws
