#pragma once
// Modeled AWS time: what an invocation would have taken on Lambda at its memory size, computed
// from what the host measured. On a 2-core host, 100 one-vCPU functions cannot run at once, so the
// measured duration (REPORT) grows with oversubscription; the modeled one does not:
//
//   modeled = CPU time / min(1, vCPU share)        (the work, at Lambda's CPU share; no core wait)
//           + S3 time under the configured profile  (per request: first byte + bytes / throughput)
//           + other off-CPU time                    (sleeps, waiting for other invocations)
//
// CPU time comes from the environment's cgroup (cpuacct / cpu.stat), which counts only time on a
// core. Off-CPU time is wall - CPU - run delay - measured S3 time, where the run delay (time
// runnable but waiting for a core, CFS-quota throttling included) is the sum of
// /proc/<pid>/task/*/schedstat's second field. The same formula models the INIT phase.
// Limits (docs/TIME_MODEL.md): the work is taken as single-threaded above 1 vCPU (the project's
// functions are); a child process's run delay counts as its parent's off-CPU time.

#include <sys/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "stratus/emulator/config.hpp"
#include "stratus/emulator/formatted_number.hpp"

namespace stratus::emulator {

// Totals of the S3 requests one environment made (s3_attribution.hpp keeps them).
struct S3Work {
  std::uint64_t requests = 0;
  std::uint64_t bytes = 0;
  double measured_ms = 0;  // server-side handling time on this host
  double modeled_ms = 0;   // the same requests under the S3 profile
};
S3Work operator-(const S3Work& later, const S3Work& earlier);

// One phase (an invocation, or an environment's INIT) as the host measured it.
struct MeasuredPhase {
  double wall_ms = 0;
  double cpu_ms = 0;
  std::optional<double> run_delay_ms;  // nullopt when schedstat is unavailable
  S3Work s3;
};

struct ModeledPhase {
  double duration_ms = 0;
  double cpu_ms = 0;    // CPU work at the memory size's vCPU share
  double s3_ms = 0;     // S3 requests under the profile
  double other_ms = 0;  // off the CPU for other reasons (sleeping, waiting on other calls)
};

struct ModeledInvocation {
  ModeledPhase run;
  ModeledPhase init;  // zero unless billed (an on-demand cold start)
  std::int64_t billed_ms = 0;
  double cost_usd = 0;
  std::uint64_t s3_requests = 0;
};

// The vCPU share Lambda gives a memory size (1769 MB = 1 vCPU, up to 6).
double lambda_vcpus(int memory_mb);

ModeledPhase model_phase(const MeasuredPhase& measured, int memory_mb);
ModeledInvocation model_invocation(const MeasuredPhase& run,
                                   const std::optional<MeasuredPhase>& init, int memory_mb,
                                   const std::string& architecture, const PriceTable& prices);

// Modeled time of one S3 request under the profile.
double modeled_s3_request_ms(const S3Profile& profile, bool write_class, std::uint64_t bytes);

// Run delay of every thread of `pid` so far, in ms; nullopt when schedstat cannot be read. A
// one-off reading: an environment keeps a RunDelayProbe (run_delay_probe.hpp) instead.
std::optional<double> run_delay_ms(pid_t pid);

// The figures of one modeled invocation as text, formatted once: the MODELED log line and the
// X-Stratus-Modeled-* headers are built from the same strings.
struct ModeledText {
  FormattedNumber duration_ms, billed_ms, init_ms, cpu_ms, s3_ms, other_ms, s3_requests;
  FormattedNumber cost_usd;       // "%.12g", for the header
  FormattedNumber cost_usd_line;  // "%.10f", for the log line
  bool has_init = false;          // the log line names Init Duration only when there was one
};
ModeledText format_modeled(const ModeledInvocation& m);

// The invoke request header that asks for the X-Stratus-Modeled-* response headers ("1"; "0" or
// absent: none, as on AWS).
inline constexpr const char* kModeledRequestHeader = "X-Stratus-Modeled";

// One X-Stratus-Modeled-* response header; the value views into a ModeledText.
struct ModeledHeader {
  std::string_view name;
  std::string_view value;
};
inline constexpr std::size_t kModeledHeaderCount = 8;
std::array<ModeledHeader, kModeledHeaderCount> modeled_headers(const ModeledText& text);

// Appends the log line written after REPORT (without its newline).
void append_modeled_line(std::string& out, std::string_view request_id, const ModeledText& text);
std::string format_modeled_line(const std::string& request_id, const ModeledInvocation& m);

}  // namespace stratus::emulator
