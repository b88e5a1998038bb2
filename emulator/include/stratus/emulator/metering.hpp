#pragma once
// Meters every invocation the way Lambda bills it and keeps per-function totals for the usage
// endpoint (JSON) and /metrics (Prometheus text).

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "stratus/emulator/config.hpp"
#include "stratus/emulator/s3_attribution.hpp"
#include "stratus/emulator/time_model.hpp"

namespace stratus::emulator {

struct InvocationMeasurement {
  std::string function;
  std::string architecture = "x86_64";
  double duration_ms = 0;
  double init_ms = 0;  // non-zero on an on-demand cold start
  int memory_mb = 128;
  std::uint64_t max_memory_used_mb = 0;
  double cpu_ms = 0;
  bool error = false;
  bool timeout = false;
};

// Lambda bills duration rounded up to the next millisecond; for custom runtimes (provided.*) the
// INIT phase of a cold start is billed too.
std::int64_t billed_duration_ms(double duration_ms, double init_ms);

// "REPORT RequestId: ...\tDuration: 1.23 ms\tBilled Duration: 2 ms\t..." as Lambda writes it.
// append_report_line appends it (without its newline) to a buffer the caller reserved.
void append_report_line(std::string& out, std::string_view request_id, const InvocationMeasurement& m);
std::string format_report_line(const std::string& request_id, const InvocationMeasurement& m);

struct FunctionUsage {
  std::uint64_t invocations = 0;
  std::uint64_t errors = 0;
  std::uint64_t throttles = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t cold_starts = 0;
  double duration_ms = 0;
  std::int64_t billed_ms = 0;
  double init_ms = 0;
  double cpu_ms = 0;
  double gb_seconds = 0;
  std::uint64_t max_memory_used_mb = 0;
  double cost_usd = 0;
  // Modeled AWS figures (time_model.hpp), summed over the invocations that have them.
  std::uint64_t modeled_invocations = 0;
  double modeled_duration_ms = 0;
  double modeled_init_ms = 0;
  double modeled_cpu_ms = 0;
  double modeled_s3_ms = 0;
  std::int64_t modeled_billed_ms = 0;
  double modeled_gb_seconds = 0;
  double modeled_cost_usd = 0;
};

// S3 bills requests in two classes (PUT, COPY, POST, LIST vs GET and the rest) plus bytes; the
// emulator counts bytes in and out per bucket so transfer can be priced or compared.
struct BucketUsage {
  std::uint64_t write_requests = 0;  // PUT, COPY, POST, LIST
  std::uint64_t read_requests = 0;   // GET, HEAD and the rest
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  double cost_usd = 0;
};

class Metering {
 public:
  explicit Metering(PriceTable prices, S3Profile s3_profile = {}) : prices_(prices), s3_attribution_(s3_profile) {}
  // Records one completed invocation (and its modeled figures, when modeled); returns its cost.
  double record(const InvocationMeasurement& m, const ModeledInvocation* modeled = nullptr);
  void record_throttle(const std::string& function);
  // Records one S3 request on `bucket` ("" for service-level requests such as ListBuckets).
  void record_s3(const std::string& bucket, bool write_class, std::uint64_t bytes_in, std::uint64_t bytes_out);
  nlohmann::json usage_json() const;
  std::string prometheus_text() const;
  const PriceTable& prices() const { return prices_; }
  // Which environment made which S3 request (for the modeled S3 time).
  S3Attribution& s3_attribution() { return s3_attribution_; }

 private:
  PriceTable prices_;
  S3Attribution s3_attribution_;
  std::map<std::string, FunctionUsage> usage_;
  std::map<std::string, BucketUsage> s3_usage_;
};

}  // namespace stratus::emulator
