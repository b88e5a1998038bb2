// The product's custom-runtime entry point: the `bootstrap` executable Lambda starts.

#include "stratus/functions/handlers.hpp"
#include "stratus/functions/lambda_services.hpp"
#include "stratus/runtime/runtime_client.hpp"

int main() {
  using namespace stratus::functions;
  return stratus::runtime::run_handlers(lambda_runtime_handlers(product_handlers()));
}
