// The product's custom-runtime entry point: the `bootstrap` executable Lambda starts.

#include "stratus/functions/handlers.hpp"
#include "stratus/runtime/runtime_client.hpp"

int main() {
  return stratus::runtime::run_handlers(stratus::functions::product_handlers());
}
