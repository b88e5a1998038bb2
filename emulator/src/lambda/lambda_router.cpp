#include "stratus/emulator/lambda/lambda_router.hpp"

#include <array>
#include <vector>

#include "stratus/common/http_message.hpp"
#include "stratus/emulator/config.hpp"

namespace stratus::emulator {

const char* operation_name(Operation op) {
  switch (op) {
    case Operation::Invoke: return "Invoke";
    case Operation::InvokeAsync: return "InvokeAsync";
    case Operation::CreateFunction: return "CreateFunction";
    case Operation::ListFunctions: return "ListFunctions";
    case Operation::GetFunction: return "GetFunction";
    case Operation::DeleteFunction: return "DeleteFunction";
    case Operation::GetFunctionConfiguration: return "GetFunctionConfiguration";
    case Operation::UpdateFunctionConfiguration: return "UpdateFunctionConfiguration";
    case Operation::UpdateFunctionCode: return "UpdateFunctionCode";
    case Operation::PutFunctionConcurrency: return "PutFunctionConcurrency";
    case Operation::GetFunctionConcurrency: return "GetFunctionConcurrency";
    case Operation::DeleteFunctionConcurrency: return "DeleteFunctionConcurrency";
    case Operation::PutFunctionEventInvokeConfig: return "PutFunctionEventInvokeConfig";
    case Operation::UpdateFunctionEventInvokeConfig: return "UpdateFunctionEventInvokeConfig";
    case Operation::GetFunctionEventInvokeConfig: return "GetFunctionEventInvokeConfig";
    case Operation::DeleteFunctionEventInvokeConfig: return "DeleteFunctionEventInvokeConfig";
    case Operation::GetAccountSettings: return "GetAccountSettings";
    case Operation::Health: return "Health";
    case Operation::Usage: return "Usage";
    case Operation::Metrics: return "Metrics";
    case Operation::Environments: return "Environments";
    case Operation::CreateFunctionUrlConfig: return "CreateFunctionUrlConfig";
    case Operation::GetFunctionUrlConfig: return "GetFunctionUrlConfig";
    case Operation::UpdateFunctionUrlConfig: return "UpdateFunctionUrlConfig";
    case Operation::DeleteFunctionUrlConfig: return "DeleteFunctionUrlConfig";
    case Operation::ListFunctionUrlConfigs: return "ListFunctionUrlConfigs";
    case Operation::GetFaults: return "GetFaults";
    case Operation::PutFaults: return "PutFaults";
    case Operation::DeleteFaults: return "DeleteFaults";
    case Operation::PutFunctionRecursionConfig: return "PutFunctionRecursionConfig";
    case Operation::GetFunctionRecursionConfig: return "GetFunctionRecursionConfig";
    case Operation::Unknown: return "Unknown";
    case Operation::BadRequest: return "BadRequest";
  }
  return "Unknown";
}

namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> segments;
  segments.reserve(8);  // the API paths have 1-5 segments: one allocation per request, not three
  std::size_t start = 0;
  while (start <= path.size()) {
    auto slash = path.find('/', start);
    auto end = slash == std::string_view::npos ? path.size() : slash;
    if (end > start) segments.push_back(path.substr(start, end - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return segments;
}

// Operations on /<version>/functions/{name}[/<suffix>], keyed by version, method and suffix.
struct FunctionRoute {
  std::string_view version;
  std::string_view method;
  std::string_view suffix;  // empty for the function itself
  Operation operation;
};

constexpr std::array kFunctionRoutes = {
    FunctionRoute{"2015-03-31", "POST", "invocations", Operation::Invoke},
    FunctionRoute{"2014-11-13", "POST", "invoke-async", Operation::InvokeAsync},
    FunctionRoute{"2015-03-31", "GET", "", Operation::GetFunction},
    FunctionRoute{"2015-03-31", "DELETE", "", Operation::DeleteFunction},
    FunctionRoute{"2015-03-31", "GET", "configuration", Operation::GetFunctionConfiguration},
    FunctionRoute{"2015-03-31", "PUT", "configuration", Operation::UpdateFunctionConfiguration},
    FunctionRoute{"2015-03-31", "PUT", "code", Operation::UpdateFunctionCode},
    FunctionRoute{"2017-10-31", "PUT", "concurrency", Operation::PutFunctionConcurrency},
    FunctionRoute{"2017-10-31", "DELETE", "concurrency", Operation::DeleteFunctionConcurrency},
    FunctionRoute{"2019-09-30", "GET", "concurrency", Operation::GetFunctionConcurrency},
    FunctionRoute{"2019-09-25", "PUT", "event-invoke-config", Operation::PutFunctionEventInvokeConfig},
    FunctionRoute{"2019-09-25", "POST", "event-invoke-config", Operation::UpdateFunctionEventInvokeConfig},
    FunctionRoute{"2019-09-25", "GET", "event-invoke-config", Operation::GetFunctionEventInvokeConfig},
    FunctionRoute{"2019-09-25", "DELETE", "event-invoke-config", Operation::DeleteFunctionEventInvokeConfig},
    FunctionRoute{"2021-10-31", "POST", "url", Operation::CreateFunctionUrlConfig},
    FunctionRoute{"2021-10-31", "GET", "url", Operation::GetFunctionUrlConfig},
    FunctionRoute{"2021-10-31", "PUT", "url", Operation::UpdateFunctionUrlConfig},
    FunctionRoute{"2021-10-31", "DELETE", "url", Operation::DeleteFunctionUrlConfig},
    FunctionRoute{"2021-10-31", "GET", "urls", Operation::ListFunctionUrlConfigs},
    FunctionRoute{"2024-08-31", "PUT", "recursion-config", Operation::PutFunctionRecursionConfig},
    FunctionRoute{"2024-08-31", "GET", "recursion-config", Operation::GetFunctionRecursionConfig},
};

}  // namespace

Route route_request(std::string_view method, std::string_view target) {
  Route route;
  auto [path, query] = split_target(target);
  auto parsed_query = parse_query(query);
  if (!parsed_query) {
    route.operation = Operation::BadRequest;
    return route;
  }
  for (auto& [k, v] : *parsed_query) route.query.emplace(std::move(k), std::move(v));

  auto segments = split_path(path);
  if (method == "GET" && segments.size() == 1 && segments[0] == "healthz") {
    route.operation = Operation::Health;
    return route;
  }
  if (method == "GET" && segments.size() == 1 && segments[0] == "metrics") {
    route.operation = Operation::Metrics;
    return route;
  }
  if (segments.size() == 3 && segments[0] == "stratus" && segments[1] == "v1" && segments[2] == "faults") {
    if (method == "GET") route.operation = Operation::GetFaults;
    if (method == "PUT") route.operation = Operation::PutFaults;
    if (method == "DELETE") route.operation = Operation::DeleteFaults;
    return route;
  }
  if (segments.size() == 3 && segments[0] == "stratus" && segments[1] == "v1" && method == "GET") {
    if (segments[2] == "usage") route.operation = Operation::Usage;
    if (segments[2] == "environments") route.operation = Operation::Environments;
    return route;
  }
  if (segments.size() == 2 && segments[0] == "2016-08-19" && segments[1] == "account-settings" &&
      method == "GET") {
    route.operation = Operation::GetAccountSettings;
    return route;
  }
  if (segments.size() < 2 || segments[1] != "functions") return route;
  if (segments.size() == 2 && segments[0] == "2015-03-31") {
    if (method == "POST") route.operation = Operation::CreateFunction;
    if (method == "GET") route.operation = Operation::ListFunctions;
    return route;
  }
  if (segments.size() > 4) return route;
  std::string_view suffix = segments.size() == 4 ? segments[3] : std::string_view{};
  for (const auto& r : kFunctionRoutes) {
    if (r.version == segments[0] && r.method == method && r.suffix == suffix) {
      auto name = percent_decode(segments[2]);
      if (!name) {
        route.operation = Operation::BadRequest;
        return route;
      }
      route.function = std::move(*name);
      route.operation = r.operation;
      return route;
    }
  }
  return route;
}

bool parse_function_reference(std::string_view raw, FunctionReference& out) {
  // Accepted: name, name:qualifier, ACCOUNT:function:name[:qualifier],
  // arn:aws:lambda:REGION:ACCOUNT:function:name[:qualifier].
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    auto colon = raw.find(':', start);
    parts.push_back(raw.substr(start, colon == std::string_view::npos ? raw.npos : colon - start));
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  std::string_view name;
  std::string_view qualifier;
  if (parts.size() >= 7 && parts[0] == "arn" && parts[2] == "lambda" && parts[5] == "function") {
    if (parts.size() > 8) return false;
    name = parts[6];
    if (parts.size() == 8) qualifier = parts[7];
  } else if (parts.size() >= 3 && parts[1] == "function") {
    if (parts.size() > 4) return false;
    name = parts[2];
    if (parts.size() == 4) qualifier = parts[3];
  } else if (parts.size() <= 2) {
    name = parts[0];
    if (parts.size() == 2) qualifier = parts[1];
  } else {
    return false;
  }
  if (!is_valid_function_name(name)) return false;
  if (parts.size() == 2 || parts.size() == 4 || parts.size() == 8) {
    if (qualifier.empty() || qualifier.size() > 128) return false;
  }
  out.name = std::string(name);
  out.qualifier = std::string(qualifier);
  return true;
}

}  // namespace stratus::emulator
