#include "stratus/emulator/lambda/destination_record.hpp"

#include "stratus/common/utc_time.hpp"

namespace stratus::emulator {

using nlohmann::json;

namespace {

// Payloads are JSON documents; anything else (a runtime's raw bytes) is carried as a string.
json parse_or_string(const std::string& text) {
  auto parsed = json::parse(text, nullptr, false);
  return parsed.is_discarded() ? json(text) : parsed;
}

}  // namespace

json make_destination_record(const Invocation& event, const std::string& qualified_function_arn,
                             const std::string& condition) {
  json record = {
      {"version", "1.0"},
      {"timestamp", format_utc_millis(std::chrono::system_clock::now(), "Z")},
      {"requestContext",
       {{"requestId", event.request_id},
        {"functionArn", qualified_function_arn},
        {"condition", condition},
        {"approximateInvokeCount", event.attempts}}},
      {"requestPayload", parse_or_string(event.payload.empty() ? "{}" : event.payload)},
  };
  // Only an event that ran has a response; one that aged out in the queue has none.
  if (event.attempts > 0) {
    json response = {{"statusCode", 200}, {"executedVersion", "$LATEST"}};
    if (!event.last_outcome.function_error.empty())
      response["functionError"] = event.last_outcome.function_error;
    record["responseContext"] = response;
    record["responsePayload"] = event.last_outcome.payload.empty()
                                    ? json(nullptr)
                                    : parse_or_string(event.last_outcome.payload);
  }
  return record;
}

}  // namespace stratus::emulator
