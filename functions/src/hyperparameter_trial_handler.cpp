// The `hyperparameter_trial` handler: one segment of one CLOUD 2018 Case C trial
// (stratus/ml/hyperparameter_search.hpp), over the context's object store and Event invoker; a
// trial that needs more time than this invocation has checkpoints and invokes itself.

#include "function_memory.hpp"
#include "stratus/functions/handlers.hpp"
#include "stratus/ml/hyperparameter_search.hpp"

namespace stratus::functions {

std::string hyperparameter_trial_handler(std::string_view payload, HandlerContext& context) {
  ml::hyperparameter_search::TrialEnvironment environment{
      context.store, context.events, [&context] { return context.remaining_time(); },
      context.scratch_dir, function_memory_mb()};
  return ml::hyperparameter_search::serve_trial_request(payload, environment);
}

}  // namespace stratus::functions
