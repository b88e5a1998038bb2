#pragma once
// The axes of `stratus-trainer sweep`: "LOW:HIGH:STEP" (every value from LOW to HIGH in steps of
// STEP, HIGH included when it falls on a step) or a comma list "50,100,200".

#include <string>
#include <vector>

namespace stratus::trainer {

// Throws std::invalid_argument naming `what` (e.g. "--memory") for anything else: not integers,
// a step of 0, LOW > HIGH, values outside [lowest, highest], repeats, or more than 1000 values.
std::vector<int> parse_grid_values(const std::string& spec, const std::string& what, int lowest,
                                   int highest);

}  // namespace stratus::trainer
