#include "stratus/emulator/lambda/recursion_chain.hpp"

#include <charconv>

#include "stratus/common/request_id.hpp"

namespace stratus::emulator {

namespace {

// The value of `name=` in a ';'-separated header, or empty.
std::string_view field(std::string_view header, std::string_view name) {
  std::size_t start = 0;
  while (start < header.size()) {
    auto end = header.find(';', start);
    if (end == std::string_view::npos) end = header.size();
    auto part = header.substr(start, end - start);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.size() > name.size() && part.substr(0, name.size()) == name &&
        part[name.size()] == '=') {
      return part.substr(name.size() + 1);
    }
    start = end + 1;
  }
  return {};
}

}  // namespace

int lineage_hops(std::string_view trace_header) {
  auto lineage = field(trace_header, "Lineage");
  auto colon = lineage.rfind(':');
  if (colon == std::string_view::npos) return 0;
  auto digits = lineage.substr(colon + 1);
  int hops = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), hops);
  if (ec != std::errc() || end != digits.data() + digits.size() || hops < 0) return 0;
  return hops;
}

std::string chain_trace_header(std::string_view incoming, int hops) {
  // One reserved string: this runs for every invoke.
  auto root = field(incoming, "Root");
  std::string out;
  out.reserve(100 + root.size());
  if (root.empty() || root.size() > 64) {
    out.append("Root=1-");
    append_hex_id(out, 8);
    out.push_back('-');
    append_hex_id(out, 24);
  } else {
    out.append("Root=").append(root);
  }
  out.append(";Parent=");
  append_hex_id(out, 16);
  out.append(";Sampled=0;Lineage=");
  append_hex_id(out, 8);
  out.push_back(':');
  char digits[16];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, hops);
  out.append(digits, end);
  return out;
}

}  // namespace stratus::emulator
