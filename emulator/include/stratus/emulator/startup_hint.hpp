#pragma once
// What the daemon prints once it listens, so a new user knows how to reach it: the endpoint, the
// functions it serves and a first AWS CLI command with throw-away credentials.

#include <string>
#include <vector>

namespace stratus::emulator {

std::vector<std::string> startup_hint(const std::string& endpoint, std::size_t function_count);

}  // namespace stratus::emulator
