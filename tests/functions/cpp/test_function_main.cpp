// The C++ test function: one bootstrap whose _HANDLER picks a behaviour the emulator's tests need
// (slow, crashing, failing, chatty, memory-hungry, large responses, ...). See docs/CONTRACTS.md,
// "Test functions".

#include <ctime>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>

#include "stratus/common/s3_client.hpp"
#include "stratus/runtime/runtime_client.hpp"

extern char** environ;

namespace {

using nlohmann::json;
using stratus::runtime::InvocationRequest;
using stratus::runtime::InvocationResponse;

// Tests invoke with "" or "{}" when a parameter does not matter; both mean "use the defaults".
json payload_object(const InvocationRequest& request) {
  if (request.payload.find_first_not_of(" \t\r\n") == std::string::npos) return json::object();
  json parsed = json::parse(request.payload);
  if (!parsed.is_object()) throw std::invalid_argument("the event must be a JSON object");
  return parsed;
}

std::int64_t non_negative_parameter(const json& event, const char* name) {
  const std::int64_t value = event.value(name, std::int64_t{0});
  if (value < 0) throw std::invalid_argument(std::string(name) + " must not be negative");
  return value;
}

// Environment values and paths are bytes, not necessarily UTF-8.
InvocationResponse json_success(const json& document) {
  return InvocationResponse::success(document.dump(-1, ' ', false, json::error_handler_t::replace));
}

InvocationResponse echo(const InvocationRequest& request) {
  return InvocationResponse::success(request.payload);
}

InvocationResponse sleep_for_requested_time(const InvocationRequest& request) {
  const json event = payload_object(request);
  const std::int64_t milliseconds = non_negative_parameter(event, "ms");
  const auto began = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(milliseconds));
  const auto ended = std::chrono::steady_clock::now();
  // With "log_span": true it logs when it slept (CLOCK_MONOTONIC, the same clock in every process
  // of the host), so a test can tell from the logs whether two executions overlapped: sampling
  // environment states cannot, as an environment still reads "busy" for a moment after it answered.
  if (event.value("log_span", false)) {
    auto micros = [](std::chrono::steady_clock::time_point t) {
      return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
    };
    std::cout << "slept from " << micros(began) << " to " << micros(ended) << " us" << std::endl;
  }
  return json_success({{"slept_ms", milliseconds}, {"pid", ::getpid()}});
}

InvocationResponse process_id(const InvocationRequest&) {
  return json_success({{"pid", ::getpid()}});
}

InvocationResponse crash(const InvocationRequest&) {
  std::cout << "crashing on purpose with exit code 3" << std::endl;
  std::_Exit(3);
}

InvocationResponse handled_error(const InvocationRequest&) {
  return InvocationResponse::failure("the error handler failed on purpose", "Custom.Failure");
}

InvocationResponse throw_exception(const InvocationRequest&) {
  throw std::runtime_error("the throw handler threw on purpose");
}

InvocationResponse write_log_lines(const InvocationRequest& request) {
  const std::int64_t lines = non_negative_parameter(payload_object(request), "lines");
  for (std::int64_t line = 1; line <= lines; ++line) std::cout << "log line " << line << '\n';
  std::cout.flush();
  std::cerr << "log line on stderr" << std::endl;
  return json_success({{"lines", lines}});
}

InvocationResponse environment_and_cwd(const InvocationRequest&) {
  json variables = json::object();
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string assignment = *entry;
    const auto equals = assignment.find('=');
    if (equals == std::string::npos) continue;
    variables[assignment.substr(0, equals)] = assignment.substr(equals + 1);
  }
  return json_success({{"env", variables}, {"cwd", std::filesystem::current_path().string()}});
}

InvocationResponse allocate_and_touch_memory(const InvocationRequest& request) {
  const std::int64_t megabytes = non_negative_parameter(payload_object(request), "mb");
  const std::size_t bytes = static_cast<std::size_t>(megabytes) * 1024 * 1024;
  // new char[] leaves the memory uninitialised, so only the writes below make it resident; a
  // zero-filled container could be satisfied by untouched copy-on-write zero pages.
  const std::unique_ptr<char[]> block(new char[bytes]);
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  volatile char* const pages = block.get();
  for (std::size_t offset = 0; offset < bytes; offset += page) {
    pages[offset] = static_cast<char>(offset / page);
  }
  return json_success({{"mb", megabytes}});
}

InvocationResponse client_context(const InvocationRequest& request) {
  return json_success({
      {"request_id", request.request_id},
      {"function_arn", request.function_arn},
      {"client_context", request.client_context},
      {"remaining_ms", request.remaining_time().count()},
      {"trace_id", request.trace_id},
  });
}

InvocationResponse count_invocations(const InvocationRequest&) {
  // Counts per process, which is what tests need to tell warm reuse from a fresh environment.
  static std::int64_t invocations_served = 0;
  ++invocations_served;
  return json_success({{"count", invocations_served}, {"pid", ::getpid()}});
}

// A JSON string literal whose total size, quotes included, is exactly the requested byte count
// (at least 2, the empty string ""), so tests can probe the 6 MB response limit precisely.
InvocationResponse big_response(const InvocationRequest& request) {
  const std::int64_t requested = non_negative_parameter(payload_object(request), "bytes");
  const std::size_t bytes = static_cast<std::size_t>(std::max<std::int64_t>(requested, 2));
  std::string body(bytes, 'x');
  body.front() = '"';
  body.back() = '"';
  return InvocationResponse::success(std::move(body));
}

// A fixed amount of CPU work (a serial integer recurrence the compiler cannot shortcut), for the
// modeled-time validation: the work is the same however the host schedules it.
InvocationResponse spin(const InvocationRequest& request) {
  const std::int64_t iterations = non_negative_parameter(payload_object(request), "iterations");
  std::uint64_t x = 88172645463325252ull;
  for (std::int64_t i = 0; i < iterations; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  return json_success({{"iterations", iterations}, {"result", x}});
}

// S3-heavy work through the emulator's S3 with the credentials the environment was given: one
// PutObject of `bytes` bytes, then `gets` GetObjects of it.
InvocationResponse s3_transfer(const InvocationRequest& request) {
  const json event = payload_object(request);
  const std::string bucket = event.value("bucket", std::string());
  const std::string key = event.value("key", std::string("object"));
  const std::int64_t bytes = non_negative_parameter(event, "bytes");
  const std::int64_t gets = non_negative_parameter(event, "gets");
  if (bucket.empty()) throw std::invalid_argument("bucket is required");
  stratus::aws::S3Client s3(stratus::aws::S3ClientOptions::from_environment());
  s3.put(bucket, key, std::string(static_cast<std::size_t>(bytes), 'x'));
  std::uint64_t read = 0;
  for (std::int64_t i = 0; i < gets; ++i) read += s3.get(bucket, key).size();
  return json_success({{"put_bytes", bytes}, {"got_bytes", read}});
}

// Burns `ms` milliseconds of the process's own CPU time: a straggler (a paced process) takes
// longer in wall time for the same CPU work, which a sleep would not show.
InvocationResponse spin_cpu(const InvocationRequest& request) {
  const std::int64_t ms = non_negative_parameter(payload_object(request), "ms");
  auto cpu_ms = [] {
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1000.0 + static_cast<double>(ts.tv_nsec) / 1e6;
  };
  const double start = cpu_ms();
  volatile std::uint64_t sink = 0;
  while (cpu_ms() - start < static_cast<double>(ms)) {
    for (int i = 0; i < 10000; ++i) sink = sink + static_cast<std::uint64_t>(i);
  }
  return json_success({{"ms", ms}});
}

}  // namespace

int main() {
  return stratus::runtime::run_handlers({
      {"echo", echo},
      {"sleep", sleep_for_requested_time},
      {"pid", process_id},
      {"crash", crash},
      {"error", handled_error},
      {"throw", throw_exception},
      {"log", write_log_lines},
      {"env", environment_and_cwd},
      {"memory", allocate_and_touch_memory},
      {"context", client_context},
      {"counter", count_invocations},
      {"big", big_response},
      {"spin", spin},
      {"s3_transfer", s3_transfer},
      {"spin_ms", spin_cpu},
  });
}
