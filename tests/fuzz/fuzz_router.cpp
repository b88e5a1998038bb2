// Fuzzes request routing and the decoders behind it: route_request, parse_function_reference,
// split_target, parse_query, percent_decode, base64_decode/encode.
//
// Input layout, a request line: "METHOD TARGET[ REST]". Everything before the first space is the
// method, up to the next space the target; the whole input is also fed to each decoder on its own.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "stratus/common/base64.hpp"
#include "stratus/common/http_message.hpp"
#include "stratus/emulator/config.hpp"
#include "stratus/emulator/lambda/lambda_router.hpp"

namespace {

using stratus::emulator::FunctionReference;
using stratus::emulator::Operation;
using stratus::emulator::Route;

std::string percent_encode(std::string_view in) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : in) {
    bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

std::vector<std::string_view> path_segments(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto slash = path.find('/', start);
    auto end = slash == std::string_view::npos ? path.size() : slash;
    if (end > start) out.push_back(path.substr(start, end - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

bool same_route(const Route& a, const Route& b) {
  return a.operation == b.operation && a.function == b.function && a.query == b.query;
}

// A reference that parsed once must parse to the same name and qualifier in every spelling
// the API accepts.
void check_reference_stable(const FunctionReference& ref) {
  FUZZ_CHECK(stratus::emulator::is_valid_function_name(ref.name));
  FUZZ_CHECK(ref.qualifier.size() <= 128);
  FUZZ_CHECK(ref.qualifier.find(':') == std::string::npos);

  std::string suffix = ref.qualifier.empty() ? std::string() : ":" + ref.qualifier;
  const std::string spellings[] = {
      ref.name + suffix,
      "123456789012:function:" + ref.name + suffix,
      "arn:aws:lambda:us-east-1:123456789012:function:" + ref.name + suffix,
  };
  for (const auto& s : spellings) {
    FunctionReference again;
    FUZZ_CHECK_MSG(stratus::emulator::parse_function_reference(s, again), "'%s'", s.c_str());
    FUZZ_CHECK(again.name == ref.name);
    FUZZ_CHECK(again.qualifier == ref.qualifier);
  }
  FunctionReference bare;
  FUZZ_CHECK(stratus::emulator::parse_function_reference(ref.name, bare));
  FUZZ_CHECK(bare.name == ref.name && bare.qualifier.empty());
}

void check_reference(std::string_view raw) {
  FunctionReference ref;
  if (!stratus::emulator::parse_function_reference(raw, ref)) return;
  FUZZ_CHECK(ref.name.size() <= raw.size());
  FUZZ_CHECK(raw.find(ref.name) != std::string_view::npos);
  FUZZ_CHECK(ref.qualifier.empty() || raw.find(ref.qualifier) != std::string_view::npos);
  check_reference_stable(ref);
}

void check_percent_decode(std::string_view in) {
  for (bool plus_as_space : {false, true}) {
    auto decoded = stratus::percent_decode(in, plus_as_space);
    if (!decoded) continue;
    FUZZ_CHECK(decoded->size() <= in.size());
    // Without '%' escapes nothing but '+' changes.
    if (in.find('%') == std::string_view::npos && !plus_as_space) FUZZ_CHECK(*decoded == in);
    // Re-encoding what was decoded and decoding again is the identity.
    auto again = stratus::percent_decode(percent_encode(*decoded), plus_as_space);
    FUZZ_CHECK(again && *again == *decoded);
  }
  // Any byte string survives encode then decode.
  auto round = stratus::percent_decode(percent_encode(in), false);
  FUZZ_CHECK(round && *round == in);
}

void check_base64(std::string_view in) {
  auto decoded = stratus::base64_decode(in);
  if (decoded) {
    FUZZ_CHECK(in.size() % 4 == 0);
    FUZZ_CHECK(decoded->size() <= in.size() / 4 * 3);
    FUZZ_CHECK(decoded->size() + 2 >= in.size() / 4 * 3);
    std::string encoded = stratus::base64_encode(*decoded);
    FUZZ_CHECK(encoded.size() == in.size());
    auto again = stratus::base64_decode(encoded);
    FUZZ_CHECK(again && *again == *decoded);
  }
  // Any byte string survives encode then decode.
  std::string encoded = stratus::base64_encode(in);
  FUZZ_CHECK(encoded.size() == (in.size() + 2) / 3 * 4);
  auto round = stratus::base64_decode(encoded);
  FUZZ_CHECK(round && *round == in);
}

void check_query(std::string_view query) {
  auto pairs = stratus::parse_query(query);
  if (!pairs) return;
  std::size_t total = 0;
  for (const auto& [k, v] : *pairs) total += k.size() + v.size();
  FUZZ_CHECK(total <= query.size());
  // Re-encoding the pairs and parsing again gives the same pairs.
  std::string rebuilt;
  for (const auto& [k, v] : *pairs) {
    if (!rebuilt.empty()) rebuilt.push_back('&');
    rebuilt += percent_encode(k) + "=" + percent_encode(v);
  }
  auto again = stratus::parse_query(rebuilt);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(*again == *pairs);
}

void check_route(std::string_view method, std::string_view target) {
  Route route = stratus::emulator::route_request(method, target);
  FUZZ_CHECK(stratus::emulator::operation_name(route.operation) != nullptr);
  FUZZ_CHECK(same_route(route, stratus::emulator::route_request(method, target)));

  auto [path, query] = stratus::split_target(target);
  if (target.find('?') == std::string_view::npos) {
    FUZZ_CHECK(path == target && query.empty());
  } else {
    FUZZ_CHECK(std::string(path) + "?" + std::string(query) == target);
    FUZZ_CHECK(path.find('?') == std::string_view::npos);
  }

  auto pairs = stratus::parse_query(query);
  if (!pairs) {
    FUZZ_CHECK(route.operation == Operation::BadRequest);
    return;
  }
  FUZZ_CHECK(route.query.size() <= pairs->size());
  for (const auto& [k, v] : route.query) {
    bool found = false;
    for (const auto& [pk, pv] : *pairs) found = found || (pk == k && pv == v);
    FUZZ_CHECK(found);
  }

  if (route.function.empty()) return;
  FUZZ_CHECK(route.operation != Operation::Unknown && route.operation != Operation::BadRequest);
  FUZZ_CHECK(route.function.size() <= path.size());

  // The function name re-encoded into the same path routes to the same operation and name.
  auto segments = path_segments(path);
  FUZZ_CHECK(segments.size() == 3 || segments.size() == 4);
  std::string rebuilt = "/" + std::string(segments[0]) + "/" + std::string(segments[1]) + "/" +
                        percent_encode(route.function);
  if (segments.size() == 4) rebuilt += "/" + std::string(segments[3]);
  Route again = stratus::emulator::route_request(method, rebuilt);
  FUZZ_CHECK(again.operation == route.operation);
  FUZZ_CHECK(again.function == route.function);
  FUZZ_CHECK(again.query.empty());

  check_reference(route.function);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);

  auto sp = input.find(' ');
  std::string_view method = input.substr(0, sp);
  std::string_view target =
      sp == std::string_view::npos ? std::string_view{} : input.substr(sp + 1);
  target = target.substr(0, target.find(' '));

  check_route(method, target);
  check_reference(input);
  check_reference(target);
  check_percent_decode(input);
  check_query(input);
  check_base64(input);
  check_base64(target);
  return 0;
}
