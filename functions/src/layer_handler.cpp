// The `layer` handler: one forward or backward step of one slice of one layer of a
// layer-parallel network (stratus/ml/layer_parallel.hpp), over the context's object store.

#include "stratus/functions/handlers.hpp"
#include "stratus/ml/layer_parallel.hpp"

namespace stratus::functions {

std::string layer_handler(std::string_view payload, HandlerContext& context) {
  return ml::layer_parallel::serve(payload, context.store);
}

}  // namespace stratus::functions
