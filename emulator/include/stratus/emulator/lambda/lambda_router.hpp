#pragma once
// Maps an HTTP method and request target to an API operation. Pure: no I/O, no state, so it is
// unit-tested and fuzzed directly.

#include <map>
#include <string>
#include <string_view>

namespace stratus::emulator {

enum class Operation {
  Invoke,
  InvokeAsync,  // the deprecated 2014-11-13 API
  CreateFunction,
  ListFunctions,
  GetFunction,
  DeleteFunction,
  GetFunctionConfiguration,
  UpdateFunctionConfiguration,
  UpdateFunctionCode,
  PutFunctionConcurrency,
  GetFunctionConcurrency,
  DeleteFunctionConcurrency,
  PutFunctionEventInvokeConfig,
  UpdateFunctionEventInvokeConfig,
  GetFunctionEventInvokeConfig,
  DeleteFunctionEventInvokeConfig,
  GetAccountSettings,
  Health,
  Usage,
  Metrics,
  Environments,
  // Function URLs (2021-10-31; function_urls.hpp)
  CreateFunctionUrlConfig,
  GetFunctionUrlConfig,
  UpdateFunctionUrlConfig,
  DeleteFunctionUrlConfig,
  ListFunctionUrlConfigs,
  GetFaults,
  PutFaults,
  DeleteFaults,
  PutFunctionRecursionConfig,
  GetFunctionRecursionConfig,
  Unknown,     // no such path
  BadRequest,  // the path or query could not be decoded
};

const char* operation_name(Operation op);

struct Route {
  Operation operation = Operation::Unknown;
  // The {FunctionName} path parameter, percent-decoded but otherwise as sent (a name or an ARN).
  std::string function;
  std::map<std::string, std::string> query;
};

Route route_request(std::string_view method, std::string_view target);

// Resolves a FunctionName parameter, which may be a name, a full ARN or a partial ARN
// ("123456789012:function:name"), optionally with ":qualifier". Returns false when malformed.
struct FunctionReference {
  std::string name;
  std::string qualifier;  // empty when none was given
};
bool parse_function_reference(std::string_view raw, FunctionReference& out);

}  // namespace stratus::emulator
