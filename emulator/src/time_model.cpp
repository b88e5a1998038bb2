#include "stratus/emulator/time_model.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "stratus/emulator/metering.hpp"

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
  if (pid <= 0) return std::nullopt;
  const std::string task_dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* dir = ::opendir(task_dir.c_str());
  if (!dir) return std::nullopt;
  double total_ns = 0;
  bool any = false;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    const std::string file = task_dir + "/" + entry->d_name + "/schedstat";
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;  // the thread exited meanwhile
    char buf[128];
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n <= 0) continue;
    buf[n] = '\0';
    // "<on-cpu ns> <run-delay ns> <timeslices>"
    char* end = nullptr;
    std::strtoull(buf, &end, 10);
    if (end == buf) continue;
    char* after = nullptr;
    unsigned long long delay = std::strtoull(end, &after, 10);
    if (after == end) continue;
    total_ns += static_cast<double>(delay);
    any = true;
  }
  ::closedir(dir);
  if (!any) return std::nullopt;
  return total_ns / 1e6;
}

namespace {

std::string number(double value, const char* format = "%.2f") {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

}  // namespace

std::map<std::string, std::string> modeled_headers(const ModeledInvocation& m) {
  return {
      {"X-Stratus-Modeled-Duration-Ms", number(m.run.duration_ms)},
      {"X-Stratus-Modeled-Billed-Ms", std::to_string(m.billed_ms)},
      {"X-Stratus-Modeled-Init-Ms", number(m.init.duration_ms)},
      {"X-Stratus-Modeled-Cpu-Ms", number(m.run.cpu_ms)},
      {"X-Stratus-Modeled-S3-Ms", number(m.run.s3_ms)},
      {"X-Stratus-Modeled-Other-Ms", number(m.run.other_ms)},
      {"X-Stratus-Modeled-S3-Requests", std::to_string(m.s3_requests)},
      {"X-Stratus-Modeled-Cost-Usd", number(m.cost_usd, "%.12g")},
  };
}

std::string format_modeled_line(const std::string& request_id, const ModeledInvocation& m) {
  std::string line =
      "MODELED RequestId: " + request_id + "\tDuration: " + number(m.run.duration_ms) +
      " ms\tBilled Duration: " + std::to_string(m.billed_ms) + " ms\tCPU: " + number(m.run.cpu_ms) +
      " ms\tS3: " + number(m.run.s3_ms) + " ms (" + std::to_string(m.s3_requests) +
      " requests)\tOther: " + number(m.run.other_ms) + " ms";
  if (m.init.duration_ms > 0) line += "\tInit Duration: " + number(m.init.duration_ms) + " ms";
  line += "\tCost: $" + number(m.cost_usd, "%.10f");
  return line;
}

}  // namespace stratus::emulator
