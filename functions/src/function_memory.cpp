#include "function_memory.hpp"

#include <cstdlib>

namespace stratus::functions {

std::uint32_t function_memory_mb() {
  const char* text = std::getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE");
  if (text == nullptr) return 0;
  char* end = nullptr;
  const unsigned long value = std::strtoul(text, &end, 10);
  return end != text && *end == '\0' && value <= 1'000'000 ? static_cast<std::uint32_t>(value) : 0;
}

}  // namespace stratus::functions
