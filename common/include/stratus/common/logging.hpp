#pragma once
#include <string_view>

namespace stratus {

// Sets up the process-wide spdlog logger on stderr with the given level name
// (trace, debug, info, warn, error, critical, off). Throws std::invalid_argument on a bad name.
void setup_logging(std::string_view level, std::string_view program_name);

}  // namespace stratus
