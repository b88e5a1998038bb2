// Function URL configurations: validation of the API's bodies, the registry, the URL forms.

#include "stratus/emulator/lambda/function_urls.hpp"

#include <random>

namespace stratus::emulator {
namespace {

using nlohmann::json;

[[noreturn]] void refuse(const std::string& message) {
  throw FunctionUrlRequestError(message);
}

std::string now_iso8601() {
  const auto now = std::chrono::system_clock::now();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", text, static_cast<int>(ms));
  return out;
}

std::string new_url_id() {
  static std::mutex mutex;
  static std::mt19937_64 random{std::random_device{}()};
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::lock_guard lock(mutex);
  std::string id;
  for (int i = 0; i < 32; ++i) id.push_back(kAlphabet[random() % 36]);
  return id;
}

std::vector<std::string> string_list(const json& cors, const char* name, std::size_t max_items,
                                     std::size_t max_length) {
  const auto it = cors.find(name);
  if (it == cors.end()) return {};
  if (!it->is_array()) refuse(std::string("Cors.") + name + " must be a list of strings");
  if (it->size() > max_items) {
    refuse(std::string("Cors.") + name + " must have at most " + std::to_string(max_items) +
           " items");
  }
  std::vector<std::string> out;
  for (const json& item : *it) {
    if (!item.is_string() || item.get_ref<const std::string&>().empty() ||
        item.get_ref<const std::string&>().size() > max_length) {
      refuse(std::string("Cors.") + name + " items must be strings of 1-" +
             std::to_string(max_length) + " characters");
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

FunctionUrlCors parse_cors(const json& cors) {
  if (!cors.is_object()) refuse("Cors must be an object");
  static const char* const kMembers[] = {"AllowCredentials", "AllowHeaders",  "AllowMethods",
                                         "AllowOrigins",     "ExposeHeaders", "MaxAge"};
  for (const auto& [key, value] : cors.items()) {
    bool known = false;
    for (const char* m : kMembers) known = known || key == m;
    if (!known) refuse("Cors has an unknown member '" + key + "'");
  }
  FunctionUrlCors out;
  if (const auto it = cors.find("AllowCredentials"); it != cors.end()) {
    if (!it->is_boolean()) refuse("Cors.AllowCredentials must be a boolean");
    out.allow_credentials = it->get<bool>();
  }
  out.allow_headers = string_list(cors, "AllowHeaders", 100, 1024);
  out.allow_methods = string_list(cors, "AllowMethods", 6, 6);
  for (const std::string& m : out.allow_methods) {
    static const char* const kMethods[] = {"GET", "PUT", "HEAD", "POST", "PATCH", "DELETE", "*"};
    bool ok = false;
    for (const char* k : kMethods) ok = ok || m == k;
    if (!ok)
      refuse("Cors.AllowMethods: '" + m + "' is not GET, PUT, HEAD, POST, PATCH, DELETE or *");
  }
  out.allow_origins = string_list(cors, "AllowOrigins", 100, 253);
  out.expose_headers = string_list(cors, "ExposeHeaders", 100, 1024);
  if (const auto it = cors.find("MaxAge"); it != cors.end()) {
    if (!it->is_number_integer() || it->get<long long>() < 0 || it->get<long long>() > 86400) {
      refuse("Cors.MaxAge must be an integer within 0..86400");
    }
    out.max_age = it->get<int>();
  }
  return out;
}

json cors_json(const FunctionUrlCors& c) {
  json out = {{"AllowCredentials", c.allow_credentials},
              {"AllowHeaders", c.allow_headers},
              {"AllowMethods", c.allow_methods},
              {"AllowOrigins", c.allow_origins},
              {"ExposeHeaders", c.expose_headers}};
  if (c.max_age) out["MaxAge"] = *c.max_age;
  return out;
}

bool url_id_chars(std::string_view id) {
  if (id.size() != 32) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

}  // namespace

void apply_function_url_body(FunctionUrlConfig& config, const json& body, bool creating) {
  if (!body.is_object()) refuse("the request body must be a JSON object");
  for (const auto& [key, value] : body.items()) {
    if (key != "AuthType" && key != "Cors" && key != "InvokeMode") {
      refuse("unknown member '" + key + "'");
    }
  }
  if (const auto it = body.find("AuthType"); it != body.end()) {
    if (!it->is_string() || (*it != "NONE" && *it != "AWS_IAM")) {
      refuse(
          "1 validation error detected: Value at 'authType' failed to satisfy constraint: Member "
          "must "
          "satisfy enum value set: [AWS_IAM, NONE]");
    }
    config.auth_type = it->get<std::string>();
  } else if (creating) {
    refuse(
        "1 validation error detected: Value null at 'authType' failed to satisfy constraint: "
        "Member must "
        "not be null");
  }
  if (const auto it = body.find("Cors"); it != body.end()) config.cors = parse_cors(*it);
  if (const auto it = body.find("InvokeMode"); it != body.end()) {
    if (!it->is_string() || (*it != "BUFFERED" && *it != "RESPONSE_STREAM")) {
      refuse("InvokeMode must be BUFFERED or RESPONSE_STREAM");
    }
    config.invoke_mode = it->get<std::string>();
  }
}

std::optional<FunctionUrlConfig> FunctionUrls::create(const std::string& function,
                                                      const json& body) {
  FunctionUrlConfig config;
  config.function = function;
  apply_function_url_body(config, body, true);
  std::lock_guard lock(mutex_);
  if (by_function_.count(function)) return std::nullopt;
  config.url_id = new_url_id();
  config.creation_time = config.last_modified_time = now_iso8601();
  by_function_[function] = config;
  return config;
}

std::optional<FunctionUrlConfig> FunctionUrls::update(const std::string& function,
                                                      const json& body) {
  std::lock_guard lock(mutex_);
  const auto it = by_function_.find(function);
  if (it == by_function_.end()) return std::nullopt;
  FunctionUrlConfig updated = it->second;
  apply_function_url_body(updated, body, false);  // throws before anything changes
  updated.last_modified_time = now_iso8601();
  it->second = updated;
  return updated;
}

std::optional<FunctionUrlConfig> FunctionUrls::get(const std::string& function) const {
  std::lock_guard lock(mutex_);
  const auto it = by_function_.find(function);
  if (it == by_function_.end()) return std::nullopt;
  return it->second;
}

bool FunctionUrls::remove(const std::string& function) {
  std::lock_guard lock(mutex_);
  return by_function_.erase(function) > 0;
}

std::optional<FunctionUrlConfig> FunctionUrls::find_by_url_id(const std::string& url_id) const {
  std::lock_guard lock(mutex_);
  for (const auto& [name, config] : by_function_) {
    if (config.url_id == url_id) return config;
  }
  return std::nullopt;
}

std::string function_url_for(const std::string& url_id, const std::string& host) {
  return "http://" + host + "/lambda-url/" + url_id + "/";
}

json function_url_json(const FunctionUrlConfig& config, const std::string& function_arn,
                       const std::string& host) {
  json out = {{"FunctionUrl", function_url_for(config.url_id, host)},
              {"FunctionArn", function_arn},
              {"AuthType", config.auth_type},
              {"CreationTime", config.creation_time},
              {"LastModifiedTime", config.last_modified_time},
              {"InvokeMode", config.invoke_mode}};
  if (config.cors) out["Cors"] = cors_json(*config.cors);
  return out;
}

std::optional<FunctionUrlTarget> function_url_target(const HttpRequestHead& head) {
  const SplitTarget split = split_target(head.target);
  constexpr std::string_view kPrefix = "/lambda-url/";
  if (split.path.substr(0, kPrefix.size()) == kPrefix) {
    std::string_view rest = split.path.substr(kPrefix.size());
    const auto slash = rest.find('/');
    const std::string_view id = rest.substr(0, slash);
    if (!url_id_chars(id)) return std::nullopt;
    FunctionUrlTarget target{
        std::string(id), slash == std::string_view::npos ? "/" : std::string(rest.substr(slash)),
        std::string(split.query)};
    return target;
  }
  // Host form: <url-id>.lambda-url.<region>.localhost[:port]
  const std::string host = head.headers.get("Host");
  const auto dot = host.find('.');
  if (dot == std::string::npos || host.compare(dot, 12, ".lambda-url.") != 0) return std::nullopt;
  std::string_view hostname(host);
  hostname = hostname.substr(0, hostname.find(':'));
  if (!hostname.ends_with(".localhost")) return std::nullopt;
  const std::string_view id = hostname.substr(0, dot);
  if (!url_id_chars(id)) return std::nullopt;
  return FunctionUrlTarget{std::string(id), std::string(split.path.empty() ? "/" : split.path),
                           std::string(split.query)};
}

}  // namespace stratus::emulator
