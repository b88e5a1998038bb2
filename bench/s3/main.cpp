// stratus-s3-bench: closed-loop small-object PUT+GET pairs against an S3 endpoint (the Stratus
// emulator, moto_server, anything that takes unsigned path-style requests). N keep-alive
// connections; each PUTs /<bucket>/<prefix><conn>-<i> and then GETs it back, checking the status and
// the bytes. Reports pairs/s, errors and latency percentiles (microseconds) of PUT, GET and pairs.
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "s3_pairs.hpp"

namespace {

using stratus::bench::LatencySummary;
using stratus::bench::S3PairsOptions;
using stratus::bench::S3PairsResult;

nlohmann::json latency_json(const std::vector<std::uint32_t>& sorted) {
  LatencySummary s = S3PairsResult::summarize(sorted);
  return {{"count", s.count}, {"p50", s.p50}, {"p90", s.p90}, {"p99", s.p99}, {"max", s.max}, {"mean", s.mean}};
}

nlohmann::json to_json(const S3PairsResult& r, const S3PairsOptions& o) {
  return {
      {"concurrency", o.concurrency},
      {"object_bytes", o.object_bytes},
      {"bucket", o.bucket},
      {"pairs", r.pairs},
      {"failed_pairs", r.failed_pairs},
      {"errors", r.errors},
      {"transport_errors", r.transport_errors},
      {"put_bad_status", r.put_bad_status},
      {"get_bad_status", r.get_bad_status},
      {"get_bad_body", r.get_bad_body},
      {"first_error", r.first_error},
      {"hit_max_run_time", r.hit_max_run_time},
      {"elapsed_s", r.elapsed_s},
      {"pairs_per_s", r.pairs_per_s()},
      {"put_latency_us", latency_json(r.put_us)},
      {"get_latency_us", latency_json(r.get_us)},
      {"pair_latency_us", latency_json(r.pair_us)},
  };
}

void print_latency(const char* name, const std::vector<std::uint32_t>& sorted) {
  LatencySummary s = S3PairsResult::summarize(sorted);
  std::printf("%-4s latency us: p50 %u  p90 %u  p99 %u  max %u  mean %.1f  (n=%llu)\n", name, s.p50, s.p90, s.p99,
              s.max, s.mean, static_cast<unsigned long long>(s.count));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "stratus-s3-bench: closed-loop small-object S3 PUT+GET pairs over keep-alive connections\n"
      "(unsigned path-style requests: the Stratus emulator with SigV4 checking off, or moto_server)"};
  S3PairsOptions options;
  std::string host = "127.0.0.1";
  std::string port;
  double duration_s = 0;
  double warmup_s = 0;
  double timeout_s = 30;
  double max_seconds = 600;
  std::vector<std::string> headers;
  bool no_create = false;
  bool json_output = false;
  app.add_option("--host", host, "server address (loopback)")->capture_default_str();
  app.add_option("--port", port, "server port")->required();
  app.add_option("--bucket", options.bucket, "bucket; created first with PUT /<bucket>")->capture_default_str();
  app.add_option("--key-prefix", options.key_prefix, "keys are <prefix><connection>-<i>");
  app.add_option("-c,--concurrency", options.concurrency, "keep-alive connections, one request in flight each")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--object-bytes", options.object_bytes, "size of every object")
      ->check(CLI::Range(std::size_t{0}, std::size_t{64} << 20))
      ->capture_default_str();
  auto* pairs_opt = app.add_option("-n,--pairs", options.pairs, "pairs to measure (in total)");
  auto* dur_opt =
      app.add_option("-d,--duration", duration_s, "seconds to measure")->check(CLI::Range(0.001, 3600.0));
  app.add_option("--warmup", warmup_s, "seconds of pairs run first (other keys) and not measured")
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--timeout", timeout_s, "per-request timeout in seconds")->check(CLI::Range(0.001, 3600.0));
  app.add_option("--max-seconds", max_seconds, "hard cap on each phase in seconds")->check(CLI::Range(0.001, 3600.0));
  app.add_option("-H,--header", headers,
                 "extra header 'Name: value' on every request (repeatable); e.g. a dummy Authorization "
                 "header, without which moto_server answers GETs of private objects with 403");
  app.add_flag("--no-create-bucket", no_create, "do not PUT the bucket first");
  app.add_flag("--json", json_output, "print one JSON object instead of text");
  CLI11_PARSE(app, argc, argv);

  if (pairs_opt->count() == 0 && dur_opt->count() == 0) {
    std::cerr << "stratus-s3-bench: give --pairs or --duration\n";
    return 2;
  }
  for (const auto& h : headers) {
    auto colon = h.find(':');
    if (colon == std::string::npos || colon == 0) {
      std::cerr << "stratus-s3-bench: header without a name and ':': " << h << "\n";
      return 2;
    }
    auto value = h.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    options.headers.emplace_back(h.substr(0, colon), value);
  }
  options.host = host;
  options.port = port;
  options.request_timeout = std::chrono::milliseconds(static_cast<long long>(timeout_s * 1000));
  options.max_run_time = std::chrono::milliseconds(static_cast<long long>(max_seconds * 1000));

  try {
    if (!no_create) {
      std::string detail;
      if (!stratus::bench::create_bucket(options, options.request_timeout, detail)) {
        std::cerr << "stratus-s3-bench: could not create bucket " << options.bucket << ": " << detail << "\n";
        return 1;
      }
    }
    if (warmup_s > 0) {
      S3PairsOptions w = options;
      w.key_prefix = options.key_prefix + "warmup-";
      w.pairs = 0;
      w.duration = std::chrono::milliseconds(static_cast<long long>(warmup_s * 1000));
      S3PairsResult r = stratus::bench::run_s3_pairs(w);
      if (r.errors > 0) std::cerr << "stratus-s3-bench: warm-up had " << r.errors << " errors: " << r.first_error << "\n";
    }
    options.duration = std::chrono::milliseconds(static_cast<long long>(duration_s * 1000));
    S3PairsResult r = stratus::bench::run_s3_pairs(options);
    if (json_output) {
      std::cout << to_json(r, options).dump() << "\n";
    } else {
      std::printf("pairs %llu  failed %llu  errors %llu (transport %llu, PUT status %llu, GET status %llu, "
                  "GET body %llu)%s\n",
                  static_cast<unsigned long long>(r.pairs), static_cast<unsigned long long>(r.failed_pairs),
                  static_cast<unsigned long long>(r.errors), static_cast<unsigned long long>(r.transport_errors),
                  static_cast<unsigned long long>(r.put_bad_status), static_cast<unsigned long long>(r.get_bad_status),
                  static_cast<unsigned long long>(r.get_bad_body),
                  r.hit_max_run_time ? "  [stopped by --max-seconds]" : "");
      if (!r.first_error.empty()) std::printf("first error: %s\n", r.first_error.c_str());
      std::printf("elapsed %.3f s  %.0f pairs/s  (concurrency %d, objects of %zu bytes)\n", r.elapsed_s,
                  r.pairs_per_s(), options.concurrency, options.object_bytes);
      print_latency("PUT", r.put_us);
      print_latency("GET", r.get_us);
      print_latency("pair", r.pair_us);
    }
    return r.pairs == 0 ? 1 : 0;
  } catch (const std::exception& e) {
    std::cerr << "stratus-s3-bench: " << e.what() << "\n";
    return 1;
  }
}
