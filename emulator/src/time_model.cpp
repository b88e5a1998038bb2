#include "stratus/emulator/time_model.hpp"

#include <algorithm>
#include <cmath>

#include "stratus/emulator/metering.hpp"
#include "stratus/emulator/run_delay_probe.hpp"

namespace stratus::emulator {

S3Work operator-(const S3Work& later, const S3Work& earlier) {
  return {later.requests - earlier.requests, later.bytes - earlier.bytes,
          later.measured_ms - earlier.measured_ms, later.modeled_ms - earlier.modeled_ms};
}

double lambda_vcpus(int memory_mb) {
  return std::min(6.0, memory_mb / 1769.0);
}

ModeledPhase model_phase(const MeasuredPhase& measured, int memory_mb) {
  ModeledPhase m;
  // Single-threaded work cannot go faster than one core, however many vCPUs the size buys.
  const double share = std::min(1.0, lambda_vcpus(memory_mb));
  m.cpu_ms = measured.cpu_ms / share;
  m.s3_ms = measured.s3.modeled_ms;
  if (measured.run_delay_ms) {
    m.other_ms = std::max(
        0.0, measured.wall_ms - measured.cpu_ms - *measured.run_delay_ms - measured.s3.measured_ms);
  }
  m.duration_ms = m.cpu_ms + m.s3_ms + m.other_ms;
  return m;
}

ModeledInvocation model_invocation(const MeasuredPhase& run,
                                   const std::optional<MeasuredPhase>& init, int memory_mb,
                                   const std::string& architecture, const PriceTable& prices) {
  ModeledInvocation m;
  m.run = model_phase(run, memory_mb);
  if (init) m.init = model_phase(*init, memory_mb);
  m.s3_requests = run.s3.requests + (init ? init->s3.requests : 0);
  m.billed_ms = billed_duration_ms(m.run.duration_ms, m.init.duration_ms);
  const double gb_second_price =
      architecture == "arm64" ? prices.gb_second_arm64 : prices.gb_second_x86_64;
  m.cost_usd = prices.request_per_million / 1e6 +
               (memory_mb / 1024.0) * (static_cast<double>(m.billed_ms) / 1000.0) * gb_second_price;
  return m;
}

double modeled_s3_request_ms(const S3Profile& profile, bool write_class, std::uint64_t bytes) {
  const S3TransferProfile& p = write_class ? profile.write : profile.read;
  return p.first_byte_ms + static_cast<double>(bytes) / (p.mb_per_s * 1e6) * 1000.0;
}

std::optional<double> run_delay_ms(pid_t pid) {
  RunDelayProbe probe;
  return probe.read(pid);
}

ModeledText format_modeled(const ModeledInvocation& m) {
  return {FormattedNumber::fixed(m.run.duration_ms, 2),
          FormattedNumber::integer(m.billed_ms),
          FormattedNumber::fixed(m.init.duration_ms, 2),
          FormattedNumber::fixed(m.run.cpu_ms, 2),
          FormattedNumber::fixed(m.run.s3_ms, 2),
          FormattedNumber::fixed(m.run.other_ms, 2),
          FormattedNumber::integer(static_cast<std::int64_t>(m.s3_requests)),
          FormattedNumber::general(m.cost_usd, 12),
          FormattedNumber::fixed(m.cost_usd, 10),
          m.init.duration_ms > 0};
}

std::array<ModeledHeader, kModeledHeaderCount> modeled_headers(const ModeledText& t) {
  return {{
      {"X-Stratus-Modeled-Duration-Ms", t.duration_ms.view()},
      {"X-Stratus-Modeled-Billed-Ms", t.billed_ms.view()},
      {"X-Stratus-Modeled-Init-Ms", t.init_ms.view()},
      {"X-Stratus-Modeled-Cpu-Ms", t.cpu_ms.view()},
      {"X-Stratus-Modeled-S3-Ms", t.s3_ms.view()},
      {"X-Stratus-Modeled-Other-Ms", t.other_ms.view()},
      {"X-Stratus-Modeled-S3-Requests", t.s3_requests.view()},
      {"X-Stratus-Modeled-Cost-Usd", t.cost_usd.view()},
  }};
}

void append_modeled_line(std::string& out, std::string_view request_id, const ModeledText& t) {
  out.append("MODELED RequestId: ").append(request_id);
  out.append("\tDuration: ").append(t.duration_ms.view());
  out.append(" ms\tBilled Duration: ").append(t.billed_ms.view());
  out.append(" ms\tCPU: ").append(t.cpu_ms.view());
  out.append(" ms\tS3: ").append(t.s3_ms.view());
  out.append(" ms (").append(t.s3_requests.view());
  out.append(" requests)\tOther: ").append(t.other_ms.view()).append(" ms");
  if (t.has_init) out.append("\tInit Duration: ").append(t.init_ms.view()).append(" ms");
  out.append("\tCost: $").append(t.cost_usd_line.view());
}

std::string format_modeled_line(const std::string& request_id, const ModeledInvocation& m) {
  std::string line;
  append_modeled_line(line, request_id, format_modeled(m));
  return line;
}

}  // namespace stratus::emulator
