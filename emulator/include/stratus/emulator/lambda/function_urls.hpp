#pragma once
// Lambda function URLs: the per-function URL configurations (CreateFunctionUrlConfig & co., API
// version 2021-10-31) and how a plain HTTP request reaches one.
//
// AWS serves a function URL at https://<url-id>.lambda-url.<region>.on.aws/. The emulator answers
// it on its own port in two local forms (both plain HTTP, no DNS needed for the first):
//   path form: http://127.0.0.1:<port>/lambda-url/<url-id>/<path>?<query>   (FunctionUrl uses it)
//   host form: any path on the port with Host: <url-id>.lambda-url.<region>.localhost[:port]
//              (curl and browsers resolve *.localhost to loopback)
// The configurations live in memory: they are lost when the daemon stops (re-create them).

#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "stratus/common/http_message.hpp"
#include "stratus/emulator/lambda/invocation.hpp"

namespace stratus::emulator {

struct FunctionUrlCors {
  bool allow_credentials = false;
  std::vector<std::string> allow_headers, allow_methods, allow_origins, expose_headers;
  std::optional<int> max_age;
};

struct FunctionUrlConfig {
  std::string function;   // the function's name
  std::string url_id;     // 32 lower-case letters and digits
  std::string auth_type;  // "NONE" or "AWS_IAM"
  std::optional<FunctionUrlCors> cors;
  std::string invoke_mode = "BUFFERED";
  std::string creation_time, last_modified_time;  // ISO 8601 with milliseconds, UTC
};

// A management request's body that does not fit the API: the message names the member.
class FunctionUrlRequestError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Thread-safe registry of every function's URL configuration (one per function: $LATEST).
class FunctionUrls {
 public:
  // nullopt: the function has one already.
  std::optional<FunctionUrlConfig> create(const std::string& function, const nlohmann::json& body);
  // nullopt: the function has none.
  std::optional<FunctionUrlConfig> update(const std::string& function, const nlohmann::json& body);
  std::optional<FunctionUrlConfig> get(const std::string& function) const;
  bool remove(const std::string& function);
  std::optional<FunctionUrlConfig> find_by_url_id(const std::string& url_id) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, FunctionUrlConfig> by_function_;
};

// Throws FunctionUrlRequestError for a body that is not the API's (AuthType required on create,
// one of NONE / AWS_IAM; Cors members typed and bounded; InvokeMode BUFFERED or RESPONSE_STREAM).
void apply_function_url_body(FunctionUrlConfig& config, const nlohmann::json& body, bool creating);

// The API's FunctionUrlConfig shape. `host` is the Host the client reached the emulator at.
nlohmann::json function_url_json(const FunctionUrlConfig& config, const std::string& function_arn,
                                 const std::string& host);
std::string function_url_for(const std::string& url_id, const std::string& host);

// Where a request for a function URL goes: the URL id and the path and query after it.
struct FunctionUrlTarget {
  std::string url_id;
  std::string raw_path;   // starts with '/', still percent-encoded as sent
  std::string raw_query;  // without '?'
};
// The path form (/lambda-url/<id>/...) or the host form; nullopt for any other request.
std::optional<FunctionUrlTarget> function_url_target(const HttpRequestHead& head);

// The request as Lambda's payload format 2.0 event (headers lower-cased, repeats joined with ',';
// cookies apart; query parameters decoded; text bodies as is, others base64). `access_key` is
// the signer's for AWS_IAM (requestContext.authorizer.iam).
std::string function_url_event(const HttpRequest& request, const FunctionUrlTarget& target,
                               const FunctionUrlConfig& config, const std::string& request_id,
                               const std::string& region, const std::string& account_id,
                               const std::string& access_key);
// The HTTP answer for the function's: {"statusCode", "headers", "cookies", "body",
// "isBase64Encoded"} as given, anything else as a 200 application/json body, a function error
// (or a malformed structured answer) as 502.
HttpResponse function_url_response(const InvocationOutcome& outcome, const std::string& request_id);

}  // namespace stratus::emulator
