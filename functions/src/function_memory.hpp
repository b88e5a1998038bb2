#pragma once
// The function's configured memory size, which Lambda (and the emulator) give every process in
// AWS_LAMBDA_FUNCTION_MEMORY_SIZE. Handlers that account for their own billed time need it.

#include <cstdint>

namespace stratus::functions {

// Megabytes; 0 when the variable is absent or malformed (in-process: nothing is billed).
std::uint32_t function_memory_mb();

}  // namespace stratus::functions
