#include "stratus/emulator/metering.hpp"

#include "stratus/emulator/formatted_number.hpp"

#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace stratus::emulator {

std::int64_t billed_duration_ms(double duration_ms, double init_ms) {
  auto billed = static_cast<std::int64_t>(std::ceil(duration_ms + init_ms));
  return billed < 1 ? 1 : billed;
}

void append_report_line(std::string& out, std::string_view request_id, const InvocationMeasurement& m) {
  out.append("REPORT RequestId: ").append(request_id);
  out.append("\tDuration: ").append(FormattedNumber::fixed(m.duration_ms, 2).view());
  out.append(" ms\tBilled Duration: ")
      .append(FormattedNumber::integer(billed_duration_ms(m.duration_ms, m.init_ms)).view());
  out.append(" ms\tMemory Size: ").append(FormattedNumber::integer(m.memory_mb).view());
  out.append(" MB\tMax Memory Used: ")
      .append(FormattedNumber::integer(static_cast<std::int64_t>(m.max_memory_used_mb)).view())
      .append(" MB");
  if (m.init_ms > 0) {
    out.append("\tInit Duration: ").append(FormattedNumber::fixed(m.init_ms, 2).view()).append(" ms");
  }
  if (m.timeout) out.append("\tStatus: timeout");
}

std::string format_report_line(const std::string& request_id, const InvocationMeasurement& m) {
  std::string line;
  append_report_line(line, request_id, m);
  return line;
}

double Metering::record(const InvocationMeasurement& m, const ModeledInvocation* modeled) {
  FunctionUsage& u = usage_[m.function];
  std::int64_t billed = billed_duration_ms(m.duration_ms, m.init_ms);
  double gb_seconds = (m.memory_mb / 1024.0) * (static_cast<double>(billed) / 1000.0);
  double gb_second_price =
      m.architecture == "arm64" ? prices_.gb_second_arm64 : prices_.gb_second_x86_64;
  double cost = prices_.request_per_million / 1e6 + gb_seconds * gb_second_price;
  u.invocations += 1;
  u.errors += m.error ? 1 : 0;
  u.timeouts += m.timeout ? 1 : 0;
  u.cold_starts += m.init_ms > 0 ? 1 : 0;
  u.duration_ms += m.duration_ms;
  u.billed_ms += billed;
  u.init_ms += m.init_ms;
  u.cpu_ms += m.cpu_ms;
  u.gb_seconds += gb_seconds;
  if (m.max_memory_used_mb > u.max_memory_used_mb) u.max_memory_used_mb = m.max_memory_used_mb;
  u.cost_usd += cost;
  if (modeled) {
    u.modeled_invocations += 1;
    u.modeled_duration_ms += modeled->run.duration_ms;
    u.modeled_init_ms += modeled->init.duration_ms;
    u.modeled_cpu_ms += modeled->run.cpu_ms + modeled->init.cpu_ms;
    u.modeled_s3_ms += modeled->run.s3_ms + modeled->init.s3_ms;
    u.modeled_billed_ms += modeled->billed_ms;
    u.modeled_gb_seconds += (m.memory_mb / 1024.0) * (static_cast<double>(modeled->billed_ms) / 1000.0);
    u.modeled_cost_usd += modeled->cost_usd;
  }
  return cost;
}

void Metering::record_throttle(const std::string& function) { usage_[function].throttles += 1; }

namespace {

nlohmann::json to_json(const FunctionUsage& u) {
  return {{"invocations", u.invocations}, {"errors", u.errors},
          {"throttles", u.throttles},     {"timeouts", u.timeouts},
          {"cold_starts", u.cold_starts}, {"duration_ms", u.duration_ms},
          {"billed_ms", u.billed_ms},     {"init_ms", u.init_ms},
          {"cpu_ms", u.cpu_ms},           {"gb_seconds", u.gb_seconds},
          {"max_memory_used_mb", u.max_memory_used_mb}, {"cost_usd", u.cost_usd},
          {"modeled",
           {{"invocations", u.modeled_invocations},
            {"duration_ms", u.modeled_duration_ms},
            {"init_ms", u.modeled_init_ms},
            {"cpu_ms", u.modeled_cpu_ms},
            {"s3_ms", u.modeled_s3_ms},
            {"billed_ms", u.modeled_billed_ms},
            {"gb_seconds", u.modeled_gb_seconds},
            {"cost_usd", u.modeled_cost_usd}}}};
}

}  // namespace

nlohmann::json Metering::usage_json() const {
  nlohmann::json functions = nlohmann::json::object();
  FunctionUsage total;
  for (const auto& [name, u] : usage_) {
    functions[name] = to_json(u);
    total.invocations += u.invocations;
    total.errors += u.errors;
    total.throttles += u.throttles;
    total.timeouts += u.timeouts;
    total.cold_starts += u.cold_starts;
    total.duration_ms += u.duration_ms;
    total.billed_ms += u.billed_ms;
    total.init_ms += u.init_ms;
    total.cpu_ms += u.cpu_ms;
    total.gb_seconds += u.gb_seconds;
    total.max_memory_used_mb = std::max(total.max_memory_used_mb, u.max_memory_used_mb);
    total.cost_usd += u.cost_usd;
    total.modeled_invocations += u.modeled_invocations;
    total.modeled_duration_ms += u.modeled_duration_ms;
    total.modeled_init_ms += u.modeled_init_ms;
    total.modeled_cpu_ms += u.modeled_cpu_ms;
    total.modeled_s3_ms += u.modeled_s3_ms;
    total.modeled_billed_ms += u.modeled_billed_ms;
    total.modeled_gb_seconds += u.modeled_gb_seconds;
    total.modeled_cost_usd += u.modeled_cost_usd;
  }
  nlohmann::json buckets = nlohmann::json::object();
  BucketUsage s3_total;
  for (const auto& [name, b] : s3_usage_) {
    buckets[name.empty() ? "(service)" : name] = {{"write_requests", b.write_requests},
                                                  {"read_requests", b.read_requests},
                                                  {"bytes_in", b.bytes_in},
                                                  {"bytes_out", b.bytes_out},
                                                  {"cost_usd", b.cost_usd}};
    s3_total.write_requests += b.write_requests;
    s3_total.read_requests += b.read_requests;
    s3_total.bytes_in += b.bytes_in;
    s3_total.bytes_out += b.bytes_out;
    s3_total.cost_usd += b.cost_usd;
  }
  nlohmann::json s3 = {{"buckets", buckets},
                       {"totals",
                        {{"write_requests", s3_total.write_requests},
                         {"read_requests", s3_total.read_requests},
                         {"bytes_in", s3_total.bytes_in},
                         {"bytes_out", s3_total.bytes_out},
                         {"cost_usd", s3_total.cost_usd}}}};
  // The profile S3 requests are modeled with, so a client composing modeled times of work the
  // emulator does not see whole (the trainer's functions orchestration) uses the same one.
  const S3Profile& profile = s3_attribution_.profile();
  nlohmann::json s3_profile = {
      {"read", {{"first_byte_ms", profile.read.first_byte_ms}, {"mb_per_s", profile.read.mb_per_s}}},
      {"write", {{"first_byte_ms", profile.write.first_byte_ms}, {"mb_per_s", profile.write.mb_per_s}}}};
  return {{"functions", functions},
          {"totals", to_json(total)},
          {"s3", s3},
          {"s3_profile", s3_profile},
          {"total_cost_usd", total.cost_usd + s3_total.cost_usd}};
}

void Metering::record_s3(const std::string& bucket, bool write_class, std::uint64_t bytes_in,
                         std::uint64_t bytes_out) {
  BucketUsage& b = s3_usage_[bucket];
  if (write_class) {
    ++b.write_requests;
    b.cost_usd += prices_.s3_put_per_1000 / 1000.0;
  } else {
    ++b.read_requests;
    b.cost_usd += prices_.s3_get_per_1000 / 1000.0;
  }
  b.bytes_in += bytes_in;
  b.bytes_out += bytes_out;
}

std::string Metering::prometheus_text() const {
  struct Metric {
    const char* name;
    const char* type;
    const char* help;
    double (*value)(const FunctionUsage&);
  };
  static const Metric metrics[] = {
      {"stratus_invocations_total", "counter", "Completed invocations",
       [](const FunctionUsage& u) { return static_cast<double>(u.invocations); }},
      {"stratus_errors_total", "counter", "Invocations that ended in a function error",
       [](const FunctionUsage& u) { return static_cast<double>(u.errors); }},
      {"stratus_throttles_total", "counter", "Invocations refused with 429",
       [](const FunctionUsage& u) { return static_cast<double>(u.throttles); }},
      {"stratus_timeouts_total", "counter", "Invocations that timed out",
       [](const FunctionUsage& u) { return static_cast<double>(u.timeouts); }},
      {"stratus_cold_starts_total", "counter", "Invocations that started a new environment",
       [](const FunctionUsage& u) { return static_cast<double>(u.cold_starts); }},
      {"stratus_duration_milliseconds_total", "counter", "Summed invocation duration",
       [](const FunctionUsage& u) { return u.duration_ms; }},
      {"stratus_billed_milliseconds_total", "counter", "Summed billed duration",
       [](const FunctionUsage& u) { return static_cast<double>(u.billed_ms); }},
      {"stratus_cpu_milliseconds_total", "counter", "CPU time used by environments",
       [](const FunctionUsage& u) { return u.cpu_ms; }},
      {"stratus_gb_seconds_total", "counter", "Billed GB-seconds",
       [](const FunctionUsage& u) { return u.gb_seconds; }},
      {"stratus_max_memory_used_megabytes", "gauge", "Largest memory peak seen",
       [](const FunctionUsage& u) { return static_cast<double>(u.max_memory_used_mb); }},
      {"stratus_cost_usd_total", "counter", "Cost at the configured price table",
       [](const FunctionUsage& u) { return u.cost_usd; }},
      {"stratus_modeled_duration_milliseconds_total", "counter", "Summed modeled AWS duration",
       [](const FunctionUsage& u) { return u.modeled_duration_ms; }},
      {"stratus_modeled_init_milliseconds_total", "counter", "Summed modeled AWS init duration",
       [](const FunctionUsage& u) { return u.modeled_init_ms; }},
      {"stratus_modeled_s3_milliseconds_total", "counter", "Summed modeled S3 time",
       [](const FunctionUsage& u) { return u.modeled_s3_ms; }},
      {"stratus_modeled_billed_milliseconds_total", "counter", "Summed modeled billed duration",
       [](const FunctionUsage& u) { return static_cast<double>(u.modeled_billed_ms); }},
      {"stratus_modeled_cost_usd_total", "counter", "Modeled AWS cost at the configured price table",
       [](const FunctionUsage& u) { return u.modeled_cost_usd; }},
  };
  std::string out;
  char buf[256];
  for (const auto& m : metrics) {
    out += std::string("# HELP ") + m.name + " " + m.help + "\n# TYPE " + m.name + " " + m.type + "\n";
    for (const auto& [name, u] : usage_) {
      std::snprintf(buf, sizeof buf, "%s{function=\"%s\"} %.17g\n", m.name, name.c_str(), m.value(u));
      out += buf;
    }
  }
  struct S3Metric {
    const char* name;
    const char* help;
    double (*value)(const BucketUsage&);
  };
  static const S3Metric s3_metrics[] = {
      {"stratus_s3_write_requests_total", "S3 PUT, COPY, POST and LIST requests",
       [](const BucketUsage& b) { return static_cast<double>(b.write_requests); }},
      {"stratus_s3_read_requests_total", "S3 GET, HEAD and other requests",
       [](const BucketUsage& b) { return static_cast<double>(b.read_requests); }},
      {"stratus_s3_bytes_in_total", "Object bytes received",
       [](const BucketUsage& b) { return static_cast<double>(b.bytes_in); }},
      {"stratus_s3_bytes_out_total", "Object bytes sent",
       [](const BucketUsage& b) { return static_cast<double>(b.bytes_out); }},
      {"stratus_s3_cost_usd_total", "S3 request cost at the configured price table",
       [](const BucketUsage& b) { return b.cost_usd; }},
  };
  for (const auto& m : s3_metrics) {
    out += std::string("# HELP ") + m.name + " " + m.help + "\n# TYPE " + m.name + " counter\n";
    for (const auto& [name, b] : s3_usage_) {
      std::snprintf(buf, sizeof buf, "%s{bucket=\"%s\"} %.17g\n", m.name, name.c_str(), m.value(b));
      out += buf;
    }
  }
  return out;
}

}  // namespace stratus::emulator
