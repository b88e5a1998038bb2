#pragma once
// The error documents Lambda returns as a failed invocation's payload, built in one place.

#include <string>

namespace stratus::emulator {

// A function's (or its runtime's) error: {"errorMessage", "errorType", "stackTrace": []}.
std::string lambda_error_document(const std::string& type, const std::string& message);

// The platform's error for an invocation that never reached a runtime (it could not start, or
// could not be placed): {"errorMessage": "RequestId: <id> Error: <message>", "errorType"}.
std::string platform_error_document(const std::string& type, const std::string& request_id,
                                    const std::string& message);

}  // namespace stratus::emulator
