#include <gtest/gtest.h>

#include <bit>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "stratus/common/linear_model.hpp"
#include "stratus/common/tensor_codec.hpp"
#include "stratus/functions/handlers.hpp"
#include "stratus/ml/memory_object_store.hpp"

using namespace stratus;
using namespace stratus::functions;
using nlohmann::json;

namespace {

// A shard whose values are float32-representable, as the trainer generates them.
struct Shard {
  std::size_t rows = 0;
  std::size_t features = 0;
  std::vector<float> x;
  std::vector<float> y;
  std::vector<double> weights;
  double bias = -0.375;
};

Shard random_shard(std::size_t rows, std::size_t features, unsigned seed = 9) {
  std::mt19937 random(seed);
  std::uniform_real_distribution<float> uniform(-2.0f, 2.0f);
  Shard s;
  s.rows = rows;
  s.features = features;
  for (std::size_t i = 0; i < rows * features; ++i) s.x.push_back(uniform(random));
  for (std::size_t i = 0; i < rows; ++i) s.y.push_back(uniform(random));
  for (std::size_t j = 0; j < features; ++j) s.weights.push_back(uniform(random) / 3.0);
  return s;
}

json json_request(const Shard& s) {
  json x = json::array();
  for (std::size_t i = 0; i < s.rows; ++i) {
    json row = json::array();
    for (std::size_t j = 0; j < s.features; ++j) row.push_back(s.x[i * s.features + j]);
    x.push_back(std::move(row));
  }
  return {{"epoch", 3},     {"step", 14}, {"shard", 2}, {"weights", s.weights},
          {"bias", s.bias}, {"x", x},     {"y", s.y}};
}

json z_request(const Shard& s) {
  const std::uint64_t x_shape[] = {s.rows, s.features};
  const std::uint64_t y_shape[] = {s.rows};
  const std::uint64_t w_shape[] = {s.features};
  return {{"epoch", 3},
          {"step", 14},
          {"shard", 2},
          {"format", "stratus-tensor/1"},
          {"weights", encode_tensor(w_shape, std::span<const double>(s.weights))},
          {"bias", s.bias},
          {"x", encode_tensor(x_shape, std::span<const float>(s.x))},
          {"y", encode_tensor(y_shape, std::span<const float>(s.y))}};
}

std::uint64_t bits(double value) {
  return std::bit_cast<std::uint64_t>(value);
}

void expect_invalid(std::string (*handler)(std::string_view), const std::string& payload,
                    std::string_view expected) {
  try {
    handler(payload);
    ADD_FAILURE() << "accepted: " << payload.substr(0, 200);
  } catch (const InvalidInput& error) {
    EXPECT_EQ(error.error_type(), "InvalidInput");
    EXPECT_NE(std::string(error.what()).find(expected), std::string::npos)
        << "message: " << error.what() << "\nexpected: " << expected;
  }
}

}  // namespace

TEST(GradientHandler, ComputesTheShardGradientAndEchoesTheIds) {
  const json request = {{"epoch", 0},    {"step", 7},
                        {"shard", 41},   {"weights", {0.5, -1.0}},
                        {"bias", 0.25},  {"x", {{1, 2}, {3, 4}, {5, 6}}},
                        {"y", {1, 2, 3}}};
  const json response = json::parse(gradient_handler(request.dump()));
  EXPECT_EQ(response, (json{{"epoch", 0},
                            {"step", 7},
                            {"shard", 41},
                            {"gradient", {-46.25, -59.0}},
                            {"bias_gradient", -12.75},
                            {"sse", 62.1875},
                            {"rows", 3}}));
  // Documented key order.
  const std::string text = gradient_handler(request.dump());
  EXPECT_LT(text.find("\"epoch\""), text.find("\"step\""));
  EXPECT_LT(text.find("\"gradient\""), text.find("\"rows\""));
}

TEST(GradientHandler, JsonNumbersRoundTripExactly) {
  const Shard s = random_shard(300, 9);
  const json response = json::parse(gradient_handler(json_request(s).dump()));
  const ShardGradient expected = linear_gradient(s.x, s.y, s.weights, s.bias);
  ASSERT_EQ(response["gradient"].size(), s.features);
  for (std::size_t j = 0; j < s.features; ++j) {
    EXPECT_EQ(bits(response["gradient"][j].get<double>()), bits(expected.gradient[j])) << j;
  }
  EXPECT_EQ(bits(response["sse"].get<double>()), bits(expected.sse));
  EXPECT_EQ(bits(response["bias_gradient"].get<double>()), bits(expected.bias_gradient));
  EXPECT_EQ(response["rows"], 300);
}

TEST(GradientZHandler, GivesBitIdenticalResultsToTheJsonVariant) {
  const Shard s = random_shard(700, 13);
  const json plain = json::parse(gradient_handler(json_request(s).dump()));
  const json zipped = json::parse(gradient_z_handler(z_request(s).dump()));
  EXPECT_EQ(zipped["format"], "stratus-tensor/1");
  EXPECT_EQ(zipped["epoch"], 3);
  EXPECT_EQ(zipped["step"], 14);
  EXPECT_EQ(zipped["shard"], 2);
  EXPECT_EQ(zipped["rows"], 700);
  const Tensor gradient = decode_tensor(zipped["gradient"].get<std::string>(), 1 << 20);
  EXPECT_EQ(gradient.dtype, DType::float64);
  EXPECT_EQ(gradient.shape, (std::vector<std::uint64_t>{13}));
  for (std::size_t j = 0; j < s.features; ++j) {
    EXPECT_EQ(bits(gradient.f64[j]), bits(plain["gradient"][j].get<double>())) << j;
  }
  EXPECT_EQ(bits(zipped["sse"].get<double>()), bits(plain["sse"].get<double>()));
  EXPECT_EQ(bits(zipped["bias_gradient"].get<double>()),
            bits(plain["bias_gradient"].get<double>()));
}

TEST(GradientHandler, RefusesMalformedRequests) {
  const json good = json_request(random_shard(4, 3));
  auto with = [&](const std::string& key, json value) {
    json request = good;
    request[key] = std::move(value);
    return request.dump();
  };
  auto without = [&](const std::string& key) {
    json request = good;
    request.erase(key);
    return request.dump();
  };
  expect_invalid(gradient_handler, "{\"epoch\":", "not valid JSON");
  expect_invalid(gradient_handler, "[1,2]", "must be a JSON object");
  for (const char* key : {"epoch", "step", "shard", "weights", "bias", "x", "y"}) {
    expect_invalid(gradient_handler, without(key), std::string("missing field \"") + key + "\"");
  }
  expect_invalid(gradient_handler, with("epoch", -1), "\"epoch\" must be a non-negative integer");
  expect_invalid(gradient_handler, with("step", 1.5), "\"step\" must be a non-negative integer");
  expect_invalid(gradient_handler, with("shard", "2"), "\"shard\" must be a non-negative integer");
  expect_invalid(gradient_handler, with("weights", 3), "\"weights\" must be an array");
  expect_invalid(gradient_handler, with("weights", {1, 2}), "x[0] has 3 values but there are 2");
  expect_invalid(gradient_handler, with("weights", {1, "a", 2}), "weights[1] must be a number");
  expect_invalid(gradient_handler, with("bias", nullptr), "bias must be a number");
  expect_invalid(gradient_handler, with("y", {1, 2, 3}), "\"x\" has 4 rows but \"y\" has 3");
  expect_invalid(gradient_handler, with("x", json::array()), "at least one row");
  expect_invalid(gradient_handler, with("x", {{1, 2, 3}, {1, 2, 3}, 4, {1, 2, 3}}),
                 "x[2] must be an array");
  expect_invalid(gradient_handler, with("x", {{1, 2, 3}, {1, 2, 3}, {1, 2}, {1, 2, 3}}),
                 "x[2] has 2 values");
  expect_invalid(gradient_handler, with("y", {1, true, 3, 4}), "y[1] must be a number");
  // JSON has no infinity; an out-of-range literal is refused by the parser.
  std::string overflowing = good.dump();
  overflowing.replace(overflowing.find("\"bias\":") + 7, 0, "1e999,\"ignored\":");
  expect_invalid(gradient_handler, overflowing, "number overflow");
  expect_invalid(gradient_handler, with("y", {1e300, 1e300, 1e300, 1e300}),
                 "overflows double precision");
}

TEST(GradientZHandler, RefusesMalformedRequests) {
  const Shard s = random_shard(5, 2);
  const json good = z_request(s);
  auto with = [&](const std::string& key, json value) {
    json request = good;
    request[key] = std::move(value);
    return request.dump();
  };
  const std::uint64_t five[] = {5};
  const std::uint64_t two[] = {2};
  const std::uint64_t five_by_two[] = {5, 2};
  const std::uint64_t four_by_two[] = {4, 2};
  const std::uint64_t five_by_three[] = {5, 3};
  const std::vector<double> five_doubles(5, 1.0);
  const std::vector<float> ten_floats(10, 1.0f);
  expect_invalid(gradient_z_handler, with("format", "stratus-tensor/2"),
                 "\"format\" must be \"stratus-tensor/1\"");
  expect_invalid(gradient_z_handler, with("x", 12), "\"x\" must be a stratus-tensor/1 string");
  expect_invalid(gradient_z_handler, with("x", "AAAA"), "\"x\": stratus-tensor/1:");
  expect_invalid(gradient_z_handler,
                 with("y", encode_tensor(five, std::span<const double>(five_doubles))),
                 "\"y\" must be a rank-1 float32 tensor, got rank 1 float64");
  expect_invalid(gradient_z_handler,
                 with("weights", encode_tensor(two, std::span<const float>(ten_floats).first(2))),
                 "\"weights\" must be a rank-1 float64 tensor");
  expect_invalid(gradient_z_handler,
                 with("x", encode_tensor(five, std::span<const float>(ten_floats).first(5))),
                 "\"x\" must be a rank-2 float32 tensor, got rank 1");
  expect_invalid(gradient_z_handler,
                 with("x", encode_tensor(four_by_two, std::span<const float>(ten_floats).first(8))),
                 "\"x\" has 4 rows but \"y\" has 5");
  const std::vector<float> fifteen(15, 1.0f);
  expect_invalid(gradient_z_handler,
                 with("x", encode_tensor(five_by_three, std::span<const float>(fifteen))),
                 "\"x\" has 3 columns but there are 2 weights");
  const std::uint64_t zero_rows[] = {0, 2};
  const std::uint64_t zero[] = {0};
  json empty = good;
  empty["x"] = encode_tensor(zero_rows, std::span<const float>());
  empty["y"] = encode_tensor(zero, std::span<const float>());
  expect_invalid(gradient_z_handler, empty.dump(), "at least one row");

  std::vector<float> bad_x = s.x;
  bad_x[7] = std::numeric_limits<float>::quiet_NaN();
  expect_invalid(gradient_z_handler,
                 with("x", encode_tensor(five_by_two, std::span<const float>(bad_x))),
                 "x[3][1] is not finite");
  std::vector<float> bad_y = s.y;
  bad_y[4] = -std::numeric_limits<float>::infinity();
  expect_invalid(gradient_z_handler, with("y", encode_tensor(five, std::span<const float>(bad_y))),
                 "y[4] is not finite");
  const std::vector<double> bad_w = {1.0, std::numeric_limits<double>::infinity()};
  expect_invalid(gradient_z_handler,
                 with("weights", encode_tensor(two, std::span<const double>(bad_w))),
                 "weights[1] is not finite");
  // Finite inputs whose squares overflow double.
  const std::vector<double> huge_w = {1e300, -1e300};
  expect_invalid(gradient_z_handler,
                 with("weights", encode_tensor(two, std::span<const double>(huge_w))),
                 "overflows double precision");
}

TEST(ProductHandlers, RegisterGradientFunctionsUnderTheirHandlerNames) {
  const auto handlers = product_handlers();
  for (const char* name : {"echo", "gradient", "gradient_z", "shard_stats"}) {
    EXPECT_TRUE(handlers.contains(name)) << name;
  }
  ml::MemoryObjectStore store;
  struct NoEvents : ml::EventInvoker {
    void invoke_event(const std::string&, std::string) override { FAIL() << "no event expected"; }
  } events;
  HandlerContext context{
      store,      events,      std::chrono::system_clock::now() + std::chrono::seconds(3),
      "gradient", "request-1", "/tmp"};
  const std::string answer =
      handlers.at("gradient")(json_request(random_shard(3, 2)).dump(), context);
  EXPECT_EQ(json::parse(answer)["rows"], 3);

  // A refused request escapes as InvalidInput, which the runtime loop reports with its own
  // errorType instead of the C++ type name.
  try {
    handlers.at("gradient_z")("{}", context);
    FAIL() << "accepted {}";
  } catch (const runtime::FunctionError& error) {
    EXPECT_EQ(error.error_type(), "InvalidInput");
  }
  const runtime::InvocationResponse refused =
      serve_invocation(handlers.at("gradient_z"), "{}", context);
  EXPECT_TRUE(refused.is_error);
  EXPECT_EQ(refused.error_type, "InvalidInput");
  EXPECT_EQ(json::parse(refused.payload)["errorType"], "InvalidInput");
}

// gradient_z reads long strings in place rather than through nlohmann's lexer
// (ml/src/json_long_strings.hpp); whatever the JSON spelling, the request means what nlohmann
// reads.
namespace {

std::string z_request_text(const Shard& s) {
  return z_request(s).dump();
}

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  for (std::size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

// The request with `fields` (members written as JSON text) put first.
std::string with_first(const std::string& request, const std::vector<std::string>& fields) {
  std::string text = "{";
  for (const std::string& member : fields) text.append(member).append(",");
  text.append(request, 1);
  return text;
}

std::string string_member(const std::string& key, const std::string& value) {
  std::string member = "\"";
  member.append(key).append("\":\"").append(value).append("\"");
  return member;
}

std::string nlohmann_error(const std::string& payload) {
  try {
    const json parsed = json::parse(payload);
    return "parsed: " + std::string(parsed.type_name());
  } catch (const json::exception& error) {
    return error.what();
  }
}

}  // namespace

TEST(GradientZHandler, ReadsEveryJsonSpellingOfTheTensorsAlike) {
  const Shard s = random_shard(200, 7);
  const std::string plain = z_request_text(s);
  ASSERT_NE(plain.find('/'), std::string::npos);  // the base64 text holds escapable characters
  const std::string expected = gradient_z_handler(plain);
  // "\/" is '/' in JSON: such strings are no longer literal and go through nlohmann.
  EXPECT_EQ(gradient_z_handler(replace_all(plain, "/", "\\/")), expected);
  // Whitespace around the separators.
  EXPECT_EQ(gradient_z_handler(replace_all(replace_all(plain, "\":", "\" :\n "), ",\"", " ,\t\"")),
            expected);
  // A U+0001 escape elsewhere in the request (it turns off reading in place).
  EXPECT_EQ(gradient_z_handler(
                with_first(plain, {string_member("note", "\\u0001" + std::string(200, 'a'))})),
            expected);
  // Long strings under other keys, and long keys, are ignored as before.
  const std::string long_list = "\"list\":[\"" + std::string(300, 'w') + "\"]";
  EXPECT_EQ(gradient_z_handler(with_first(
                plain, {string_member(std::string(300, 'k'), std::string(300, 'v')), long_list})),
            expected);
  // A duplicated key means its last value, as nlohmann reads it.
  EXPECT_EQ(gradient_z_handler(with_first(plain, {string_member("x", std::string(400, '!'))})),
            expected);
  const std::string last_x_wrong =
      plain.substr(0, plain.size() - 1) + "," + string_member("x", std::string(400, 'A')) + "}";
  expect_invalid(gradient_z_handler, last_x_wrong, "\"x\": stratus-tensor/1:");
}

TEST(GradientZHandler, RefusesLongStringsAsBefore) {
  const Shard s = random_shard(50, 3);
  const json good = z_request(s);
  json spaced = good;
  std::string x = spaced["x"];
  x.insert(x.size() / 2, "    ");
  spaced["x"] = x;
  expect_invalid(gradient_z_handler, spaced.dump(),
                 "\"x\": stratus-tensor/1: the text is not valid base64");
  json long_format = good;
  long_format["format"] = "stratus-tensor/1" + std::string(200, '1');
  expect_invalid(gradient_z_handler, long_format.dump(), "\"format\" must be \"stratus-tensor/1\"");
  json long_bias = good;
  long_bias["bias"] = std::string(200, '1');
  expect_invalid(gradient_z_handler, long_bias.dump(), "bias must be a number");
  json long_step = good;
  long_step["step"] = std::string(200, '1');
  expect_invalid(gradient_z_handler, long_step.dump(), "\"step\" must be a non-negative integer");
}

TEST(GradientZHandler, ReportsNlohmannsOwnErrorAndPositionAfterLongStrings) {
  const std::string plain = z_request_text(random_shard(80, 4));
  const std::vector<std::string> broken = {
      plain.substr(0, plain.size() - 1),                              // unterminated object
      plain + "x",                                                    // trailing garbage
      replace_all(plain, ",\"y\":", ",\"y\"::"),                      // a syntax error after x
      plain.substr(0, plain.find("\"y\":") + 10),                     // cut inside a long string
      replace_all(plain, "\"bias\":", "\"bias\":1e999,\"b\":"),       // number overflow
      replace_all(plain, "\"shard\":", "\"shard\":\"\x01\",\"s\":"),  // raw control character
  };
  for (const std::string& payload : broken) {
    const std::string error = nlohmann_error(payload);
    ASSERT_EQ(error.find("parsed"), std::string::npos) << payload.substr(0, 100);
    expect_invalid(gradient_z_handler, payload, "the event is not valid JSON: " + error);
  }
}
