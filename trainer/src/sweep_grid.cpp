#include "stratus/trainer/sweep_grid.hpp"

#include <algorithm>
#include <cstdint>
#include <stdexcept>

namespace stratus::trainer {

namespace {

constexpr std::size_t kMostValues = 1000;

int parse_int(const std::string& text, const std::string& what) {
  std::size_t used = 0;
  long long value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || value < INT32_MIN || value > INT32_MAX)
    throw std::invalid_argument(what + ": '" + text + "' is not an integer");
  return static_cast<int>(value);
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::size_t from = 0;
  while (true) {
    const std::size_t at = text.find(separator, from);
    parts.push_back(text.substr(from, at == std::string::npos ? std::string::npos : at - from));
    if (at == std::string::npos) return parts;
    from = at + 1;
  }
}

}  // namespace

std::vector<int> parse_grid_values(const std::string& spec, const std::string& what, int lowest,
                                   int highest) {
  std::vector<int> values;
  const bool range = spec.find(':') != std::string::npos;
  if (range) {
    const auto parts = split(spec, ':');
    if (parts.size() != 3)
      throw std::invalid_argument(what + " must be LOW:HIGH:STEP or a comma list");
    const int low = parse_int(parts[0], what), high = parse_int(parts[1], what),
              step = parse_int(parts[2], what);
    if (step <= 0) throw std::invalid_argument(what + ": STEP must be positive");
    if (low > high) throw std::invalid_argument(what + ": LOW must not be above HIGH");
    if ((static_cast<std::int64_t>(high) - low) / step + 1 > static_cast<std::int64_t>(kMostValues))
      throw std::invalid_argument(what + ": more than 1000 values");
    for (std::int64_t v = low; v <= high; v += step) values.push_back(static_cast<int>(v));
  } else {
    for (const std::string& part : split(spec, ',')) values.push_back(parse_int(part, what));
    if (values.size() > kMostValues) throw std::invalid_argument(what + ": more than 1000 values");
  }
  for (int v : values) {
    if (v < lowest || v > highest) {
      throw std::invalid_argument(what + ": " + std::to_string(v) + " is outside [" +
                                  std::to_string(lowest) + ", " + std::to_string(highest) + "]");
    }
  }
  std::vector<int> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
    throw std::invalid_argument(what + ": a value is repeated");
  return values;
}

}  // namespace stratus::trainer
