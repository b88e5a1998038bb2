#pragma once
// The invocation record Lambda sends to an asynchronous invocation's destinations (and the
// emulator also appends to <data-dir>/async/on-failure.jsonl for failures):
//   {"version":"1.0","timestamp":"...Z",
//    "requestContext":{"requestId","functionArn","condition","approximateInvokeCount"},
//    "requestPayload":..., "responseContext":{"statusCode","executedVersion","functionError"},
//    "responsePayload":...}
// condition is "Success", "RetriesExhausted", "EventAgeExceeded" (or "FunctionDeleted" here).

#include <nlohmann/json.hpp>
#include <string>

#include "stratus/emulator/lambda/invocation.hpp"

namespace stratus::emulator {

nlohmann::json make_destination_record(const Invocation& event,
                                       const std::string& qualified_function_arn,
                                       const std::string& condition);

}  // namespace stratus::emulator
