// A plain HTTP request to a function URL: authorisation (NONE, or AWS_IAM = a valid SigV4
// signature), CORS, the request as Lambda's payload format 2.0 event, and the function's answer
// read back as AWS does ({"statusCode","headers","cookies","body","isBase64Encoded"}, or any
// other answer as a 200 application/json body).

#include <spdlog/spdlog.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "stratus/common/base64.hpp"
#include "stratus/common/sigv4.hpp"
#include "stratus/emulator/lambda/api_error.hpp"
#include "stratus/emulator/lambda/function_urls.hpp"
#include "stratus/emulator/lambda/lambda_api.hpp"

namespace stratus::emulator {
namespace {

using nlohmann::json;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

HttpResponse message_response(int status, const std::string& message,
                              const std::string& request_id) {
  HttpResponse response;
  response.status = status;
  response.headers.add("Content-Type", "application/json");
  response.headers.add("x-amzn-RequestId", request_id);
  response.body = json{{"Message", message}}.dump();
  return response;
}

// Content types AWS passes as text; everything else is base64 in the event.
bool is_text(std::string_view content_type) {
  const std::string type = lower(content_type.substr(0, content_type.find(';')));
  return type.starts_with("text/") || type == "application/json" || type == "application/xml" ||
         type == "application/javascript" || type == "application/x-www-form-urlencoded" ||
         type.ends_with("+json") || type.ends_with("+xml");
}

std::string clf_time(std::chrono::system_clock::time_point now) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  std::strftime(text, sizeof text, "%d/%b/%Y:%H:%M:%S +0000", &utc);
  return text;
}

bool origin_allowed(const FunctionUrlCors& cors, const std::string& origin) {
  for (const std::string& o : cors.allow_origins) {
    if (o == "*" || o == origin) return true;
  }
  return false;
}

void add_cors(HttpResponse& response, const FunctionUrlConfig& config, const HttpRequest& request,
              bool preflight) {
  if (!config.cors) return;
  const std::string* origin = request.headers.find("Origin");
  if (origin == nullptr || !origin_allowed(*config.cors, *origin)) return;
  const FunctionUrlCors& c = *config.cors;
  response.headers.add("Access-Control-Allow-Origin", *origin);
  response.headers.add("Vary", "Origin");
  if (c.allow_credentials) response.headers.add("Access-Control-Allow-Credentials", "true");
  auto joined = [](const std::vector<std::string>& items) {
    std::string out;
    for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
    return out;
  };
  if (preflight) {
    if (!c.allow_methods.empty())
      response.headers.add("Access-Control-Allow-Methods", joined(c.allow_methods));
    if (!c.allow_headers.empty())
      response.headers.add("Access-Control-Allow-Headers", joined(c.allow_headers));
    if (c.max_age) response.headers.add("Access-Control-Max-Age", std::to_string(*c.max_age));
  } else if (!c.expose_headers.empty()) {
    response.headers.add("Access-Control-Expose-Headers", joined(c.expose_headers));
  }
}

}  // namespace

std::string function_url_event(const HttpRequest& request, const FunctionUrlTarget& target,
                               const FunctionUrlConfig& config, const std::string& request_id,
                               const std::string& region, const std::string& account_id,
                               const std::string& access_key) {
  const auto now = std::chrono::system_clock::now();
  json headers = json::object();
  json cookies = json::array();
  std::string user_agent;
  for (const HttpHeaderField& field : request.headers.fields()) {
    const std::string name = lower(field.name);
    if (name == "cookie") {
      std::string_view rest = field.value;
      while (!rest.empty()) {
        const auto sep = rest.find(';');
        std::string_view cookie = rest.substr(0, sep);
        while (!cookie.empty() && cookie.front() == ' ') cookie.remove_prefix(1);
        if (!cookie.empty()) cookies.push_back(std::string(cookie));
        if (sep == std::string_view::npos) break;
        rest.remove_prefix(sep + 1);
      }
      continue;
    }
    if (name == "user-agent") user_agent = field.value;
    if (headers.contains(name)) {
      headers[name] = headers[name].get<std::string>() + "," + field.value;
    } else {
      headers[name] = field.value;
    }
  }
  const std::string domain = config.url_id + ".lambda-url." + region + ".on.aws";
  json http = {{"method", request.method},
               {"path", target.raw_path},
               {"protocol", "HTTP/1.1"},
               {"sourceIp", request.remote_address},
               {"userAgent", user_agent}};
  json context = {
      {"accountId", config.auth_type == "AWS_IAM" ? account_id : "anonymous"},
      {"apiId", config.url_id},
      {"domainName", domain},
      {"domainPrefix", config.url_id},
      {"http", http},
      {"requestId", request_id},
      {"routeKey", "$default"},
      {"stage", "$default"},
      {"time", clf_time(now)},
      {"timeEpoch",
       std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count()}};
  if (config.auth_type == "AWS_IAM") {
    context["authorizer"] = {{"iam",
                              {{"accessKey", access_key},
                               {"accountId", account_id},
                               {"callerId", access_key},
                               {"cognitoIdentity", nullptr},
                               {"principalOrgId", nullptr},
                               {"userArn", "arn:aws:iam::" + account_id + ":user/" + access_key},
                               {"userId", access_key}}}};
  }
  json event = {{"version", "2.0"},
                {"routeKey", "$default"},
                {"rawPath", target.raw_path},
                {"rawQueryString", target.raw_query}};
  if (!cookies.empty()) event["cookies"] = cookies;
  event["headers"] = headers;
  if (!target.raw_query.empty()) {
    json parameters = json::object();
    if (auto parsed = parse_query(target.raw_query)) {
      for (const auto& [key, value] : *parsed) {
        if (parameters.contains(key)) {
          parameters[key] = parameters[key].get<std::string>() + "," + value;
        } else {
          parameters[key] = value;
        }
      }
    }
    event["queryStringParameters"] = parameters;
  }
  event["requestContext"] = context;
  if (!request.body.empty()) {
    const bool text = is_text(request.headers.get("Content-Type"));
    event["body"] = text ? request.body : base64_encode(request.body);
    event["isBase64Encoded"] = !text;
  } else {
    event["isBase64Encoded"] = false;
  }
  // Text bodies are passed as given; one that is not valid UTF-8 cannot go into JSON: base64.
  try {
    return event.dump();
  } catch (const json::type_error&) {
    event["body"] = base64_encode(request.body);
    event["isBase64Encoded"] = true;
    return event.dump();
  }
}

HttpResponse function_url_response(const InvocationOutcome& outcome,
                                   const std::string& request_id) {
  if (!outcome.function_error.empty())
    return message_response(502, "Internal Server Error", request_id);
  HttpResponse response;
  response.headers.add("x-amzn-RequestId", request_id);
  const json answer = json::parse(outcome.payload, nullptr, false);
  if (answer.is_discarded() || !answer.is_object() || !answer.contains("statusCode")) {
    // Not the structured shape: the answer itself is the body.
    response.headers.add("Content-Type", "application/json");
    response.body = outcome.payload;
    return response;
  }
  const json& status = answer["statusCode"];
  if (!status.is_number_integer() || status.get<long long>() < 100 ||
      status.get<long long>() > 599) {
    return message_response(502, "Internal Server Error", request_id);
  }
  response.status = status.get<int>();
  bool has_content_type = false;
  if (const auto it = answer.find("headers"); it != answer.end() && it->is_object()) {
    for (const auto& [name, value] : it->items()) {
      const std::string text = value.is_string() ? value.get<std::string>() : value.dump();
      // A header value with a line break would split the response: refused as AWS does.
      if (text.find_first_of("\r\n") != std::string::npos ||
          name.find_first_of("\r\n: ") != std::string::npos) {
        return message_response(502, "Internal Server Error", request_id);
      }
      if (lower(name) == "content-type") has_content_type = true;
      response.headers.add(name, text);
    }
  }
  if (const auto it = answer.find("cookies"); it != answer.end() && it->is_array()) {
    for (const json& cookie : *it) {
      if (!cookie.is_string() ||
          cookie.get_ref<const std::string&>().find_first_of("\r\n") != std::string::npos) {
        return message_response(502, "Internal Server Error", request_id);
      }
      response.headers.add("Set-Cookie", cookie.get<std::string>());
    }
  }
  if (!has_content_type) response.headers.add("Content-Type", "application/json");
  if (const auto it = answer.find("body"); it != answer.end() && !it->is_null()) {
    response.body = it->is_string() ? it->get<std::string>() : it->dump();
    const auto b64 = answer.find("isBase64Encoded");
    if (b64 != answer.end() && b64->is_boolean() && b64->get<bool>()) {
      auto decoded = base64_decode(response.body);
      if (!decoded) return message_response(502, "Internal Server Error", request_id);
      response.body = std::move(*decoded);
    }
  }
  return response;
}

void LambdaApi::invoke_function_url(const FunctionUrlTarget& target, HttpRequest& request,
                                    const std::string& request_id, HttpResponder& respond) {
  const auto config = function_urls_.find_by_url_id(target.url_id);
  if (!config || !registry_.find(config->function))
    return respond(message_response(404, "Not Found", request_id));
  std::string access_key;
  if (config->auth_type == "AWS_IAM") {
    auto lookup = [this](const std::string& key) { return config_.sigv4.secret_for(key); };
    const auto verdict =
        aws::verify(request, request.body, lookup, std::chrono::system_clock::now());
    if (verdict != aws::VerifyResult::Ok) {
      spdlog::info("function URL {} ({}) refused: {}", target.url_id, config->function,
                   aws::to_string(verdict));
      return respond(message_response(403, "Forbidden", request_id));
    }
    const std::string auth = request.headers.get("Authorization");
    const auto at = auth.find("Credential=");
    if (at != std::string::npos) access_key = auth.substr(at + 11, auth.find('/', at) - at - 11);
  }
  if (request.method == "OPTIONS" && config->cors && request.headers.find("Origin") &&
      request.headers.find("Access-Control-Request-Method")) {
    HttpResponse preflight;
    preflight.headers.add("x-amzn-RequestId", request_id);
    add_cors(preflight, *config, request, true);
    return respond(std::move(preflight));
  }
  auto invocation = std::make_shared<Invocation>();
  invocation->request_id = request_id;
  invocation->function_name = config->function;
  invocation->payload = function_url_event(request, target, *config, request_id, config_.region,
                                           config_.account_id, access_key);
  if (invocation->payload.size() > kMaxSyncPayloadBytes) {
    return respond(
        message_response(413,
                         "Request must be smaller than 6291456 bytes for the InvokeFunction "
                         "operation",
                         request_id));
  }
  invocation->on_complete = [respond, request_id, cfg = *config,
                             origin = request.headers.get("Origin"),
                             request_copy = HttpRequest{}](InvocationOutcome outcome) mutable {
    HttpResponse response = function_url_response(outcome, request_id);
    if (!origin.empty()) request_copy.headers.add("Origin", origin);
    add_cors(response, cfg, request_copy, false);
    respond(std::move(response));
  };
  const PlacementResult placed = scheduler_.invoke(std::move(invocation));
  switch (placed.placement) {
    case Placement::Started: return;
    case Placement::Throttled: {
      HttpResponse throttled = message_response(429, "Rate Exceeded.", request_id);
      add_cors(throttled, *config, request, false);
      return respond(std::move(throttled));
    }
    case Placement::FunctionNotFound: return respond(message_response(404, "Not Found", request_id));
    case Placement::ShuttingDown: break;
  }
  respond(message_response(500, "Internal Server Error", request_id));
}

}  // namespace stratus::emulator
