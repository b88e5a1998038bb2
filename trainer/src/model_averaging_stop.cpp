// `stratus-trainer stop`: a run's stop flag, then waiting until none of its functions runs (no
// alive record with a lease left, live_invocations.hpp; model_averaging.hpp).

#include <chrono>
#include <thread>

#include "live_invocations.hpp"
#include "stratus/ml/model_averaging.hpp"
#include "stratus/ml/model_averaging_worker.hpp"
#include "stratus/trainer/model_averaging.hpp"

namespace stratus::trainer {

using namespace ml::averaging;
using Clock = std::chrono::steady_clock;

StopSummary stop_run(ml::ObjectStore& store, const std::string& bucket, const std::string& run_id,
                     std::chrono::seconds timeout, const std::function<void()>& before_wait,
                     const std::function<bool()>& interrupted) {
  const RunLayout layout(run_id);
  if (!store.exists(bucket, layout.config())) {
    throw std::invalid_argument("there is no run " + run_id + " in s3://" + bucket + "/");
  }
  store.put(bucket, layout.stop(), "stopped by stratus-trainer stop\n");
  if (before_wait) before_wait();
  const auto started = Clock::now();
  // Running = a lease not run out: a function killed mid-round (its record left behind) stops
  // counting within one lease, not at its timeout.
  auto running = [&] { return live_invocations(store, bucket, layout, epoch_ms()).size(); };
  StopSummary summary;
  summary.running_at_stop = running();
  summary.still_running = summary.running_at_stop;
  // An Event accepted just before the flag may start after it: it sees the flag at once, but
  // only after writing its marker, so "none running" must hold for a while to count.
  int quiet_checks = 0;
  while (quiet_checks < 5 && Clock::now() - started < timeout) {
    if (interrupted && interrupted()) {
      summary.interrupted = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    summary.still_running = running();
    quiet_checks = summary.still_running == 0 ? quiet_checks + 1 : 0;
  }
  summary.waited_s = std::chrono::duration<double>(Clock::now() - started).count();
  return summary;
}

}  // namespace stratus::trainer
