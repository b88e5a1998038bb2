// The `model_averaging` handler: CLOUD 2018 Case A and Case B workers (the architecture is in the
// request's run config), a thin adapter from the handler context to the worker in ml/
// (stratus/ml/model_averaging_worker.hpp).

#include <cstdlib>
#include <mutex>
#include <set>
#include <string>

#include "function_memory.hpp"
#include "stratus/functions/handlers.hpp"
#include "stratus/ml/model_averaging_worker.hpp"

namespace stratus::functions {
namespace {

// The first invocation an environment serves is its cold start. One environment = one scratch
// directory: the bootstrap's process has /tmp, the in-process invoker one directory per
// environment, so this is right in both.
bool first_use_of(const std::filesystem::path& scratch_dir) {
  static std::mutex mutex;
  static std::set<std::filesystem::path> seen;
  std::lock_guard lock(mutex);
  return seen.insert(scratch_dir).second;
}

}  // namespace

std::string model_averaging_handler(std::string_view payload, HandlerContext& context) {
  ml::averaging::WorkerEnvironment environment{
      context.store,       context.events,      [&context] { return context.remaining_time(); },
      context.request_id,  context.scratch_dir, first_use_of(context.scratch_dir),
      function_memory_mb()};
  return ml::averaging::serve_worker_request(payload, environment);
}

}  // namespace stratus::functions
