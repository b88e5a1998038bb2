// The `augment` handler: the augment protocol (stratus/ml/augment_protocol.hpp) over the
// context's store, staging through its scratch directory (/tmp in Lambda).

#include "stratus/functions/handlers.hpp"
#include "stratus/ml/augment_protocol.hpp"

namespace stratus::functions {

std::string augment_handler(std::string_view payload, HandlerContext& context) {
  return ml::augment::serve(payload, context.store, context.scratch_dir);
}

}  // namespace stratus::functions
