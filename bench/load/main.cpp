// stratus-load: closed-loop HTTP load against one URL (an invoke endpoint, or the floor server).
// N keep-alive connections, one request in flight on each; prints count, errors, throughput and
// latency percentiles in microseconds.
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "load_generator.hpp"

namespace {

using stratus::bench::LoadOptions;
using stratus::bench::LoadResult;

nlohmann::json to_json(const LoadResult& r, const LoadOptions& o, std::size_t payload_bytes) {
  return {
      {"url_path", o.target.path},
      {"concurrency", o.concurrency},
      {"payload_bytes", payload_bytes},
      {"count", r.completed},
      {"errors", r.errors},
      {"transport_errors", r.transport_errors},
      {"function_errors", r.function_errors},
      {"non_2xx", r.non_2xx},
      {"hit_max_run_time", r.hit_max_run_time},
      {"elapsed_s", r.elapsed_s},
      {"throughput_rps", r.throughput()},
      {"latency_us",
       {{"p50", r.percentile(50)},
        {"p90", r.percentile(90)},
        {"p99", r.percentile(99)},
        {"max", r.percentile(100)},
        {"mean", r.mean_us()}}},
  };
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"stratus-load: closed-loop keep-alive HTTP load with latency percentiles"};
  std::string url;
  int concurrency = 1;
  std::uint64_t requests = 0;
  double duration_s = 0;
  std::size_t payload_bytes = 1024;
  std::string body;
  std::uint64_t warmup = 0;
  double timeout_s = 30;
  double max_seconds = 600;
  std::string method = "POST";
  std::vector<std::string> headers;
  bool json_output = false;
  app.add_option("--url", url, "full URL, e.g. http://127.0.0.1:9001/2015-03-31/functions/echo/invocations")
      ->required();
  app.add_option("-c,--concurrency", concurrency, "keep-alive connections, one request in flight each")
      ->check(CLI::Range(1, 10000));
  auto* req_opt = app.add_option("-n,--requests", requests, "total requests to measure");
  auto* dur_opt = app.add_option("-d,--duration", duration_s, "seconds to measure")->check(CLI::Range(0.001, 3600.0));
  app.add_option("--payload-bytes", payload_bytes, "size of the JSON request body {\"data\":\"xx..\"}");
  app.add_option("--body", body, "exact request body (overrides --payload-bytes)");
  app.add_option("--warmup", warmup, "requests sent first (same concurrency) and not measured");
  app.add_option("--timeout", timeout_s, "per-request timeout in seconds")->check(CLI::Range(0.001, 3600.0));
  app.add_option("--max-seconds", max_seconds, "hard cap on each phase in seconds")->check(CLI::Range(0.001, 3600.0));
  app.add_option("--method", method, "HTTP method");
  app.add_option("-H,--header", headers, "extra header 'Name: value' (repeatable)");
  app.add_flag("--json", json_output, "print one JSON object instead of text");
  CLI11_PARSE(app, argc, argv);

  if (req_opt->count() == 0 && dur_opt->count() == 0) {
    std::cerr << "stratus-load: give --requests or --duration\n";
    return 2;
  }
  auto target = stratus::bench::parse_http_url(url);
  if (!target) {
    std::cerr << "stratus-load: not an http:// URL: " << url << "\n";
    return 2;
  }
  LoadOptions options;
  options.target = *target;
  options.method = method;
  options.body = body.empty() ? stratus::bench::json_payload_of_size(payload_bytes) : body;
  for (const auto& h : headers) {
    auto colon = h.find(':');
    if (colon == std::string::npos) {
      std::cerr << "stratus-load: header without ':': " << h << "\n";
      return 2;
    }
    auto value = h.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    options.headers.emplace_back(h.substr(0, colon), value);
  }
  options.concurrency = concurrency;
  options.request_timeout = std::chrono::milliseconds(static_cast<long long>(timeout_s * 1000));
  options.max_run_time = std::chrono::milliseconds(static_cast<long long>(max_seconds * 1000));

  try {
    if (warmup > 0) {
      LoadOptions w = options;
      w.requests = warmup;
      w.duration = std::chrono::milliseconds(0);
      LoadResult r = stratus::bench::run_load(w);
      if (r.errors > 0) std::cerr << "stratus-load: warm-up had " << r.errors << " errors\n";
    }
    options.requests = requests;
    options.duration = std::chrono::milliseconds(static_cast<long long>(duration_s * 1000));
    LoadResult r = stratus::bench::run_load(options);
    if (json_output) {
      std::cout << to_json(r, options, options.body.size()).dump() << "\n";
    } else {
      std::printf("count %llu  errors %llu (transport %llu, function %llu, non-2xx %llu)%s\n",
                  static_cast<unsigned long long>(r.completed), static_cast<unsigned long long>(r.errors),
                  static_cast<unsigned long long>(r.transport_errors),
                  static_cast<unsigned long long>(r.function_errors),
                  static_cast<unsigned long long>(r.non_2xx),
                  r.hit_max_run_time ? "  [stopped by --max-seconds]" : "");
      std::printf("elapsed %.3f s  throughput %.0f req/s  (concurrency %d, body %zu bytes)\n", r.elapsed_s,
                  r.throughput(), concurrency, options.body.size());
      std::printf("latency us: p50 %u  p90 %u  p99 %u  max %u  mean %.1f\n", r.percentile(50),
                  r.percentile(90), r.percentile(99), r.percentile(100), r.mean_us());
    }
    return r.completed == 0 ? 1 : 0;
  } catch (const std::exception& e) {
    std::cerr << "stratus-load: " << e.what() << "\n";
    return 1;
  }
}
