#pragma once
// The handler table as the `bootstrap` serves it to the Runtime API: each invocation gets a
// HandlerContext over S3 and Lambda Event invokes reached with what Lambda (or the emulator) puts
// in the function's environment (AWS_REGION, the role's credentials, AWS_ENDPOINT_URL), built on
// first use and kept for the environment's life, and /tmp as its scratch directory.

#include <map>
#include <string>

#include "stratus/functions/handler_context.hpp"

namespace stratus::functions {

std::map<std::string, runtime::Handler> lambda_runtime_handlers(const HandlerTable& table);

}  // namespace stratus::functions
