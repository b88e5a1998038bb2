#pragma once
// Every function the product deploys (`stratus-trainer deploy`) and the trainer invokes, in one
// place: its name, the handler it runs (product_handlers()), and its memory and timeout. The
// in-process invoker maps function names to handlers with the same list.

#include <string>
#include <string_view>
#include <vector>

namespace stratus::functions {

struct FunctionSpec {
  std::string name;     // the Lambda function name the trainer invokes
  std::string handler;  // the product_handlers() key (_HANDLER)
  int memory_mb = 128;
  int timeout_s = 3;
  std::string description;
  // Invokes itself (and its tree) by design, bounding its own chains (rounds, stop flag): deploy
  // sets its recursion config to Allow so loop detection does not cut a long run.
  bool recursive_by_design = false;
};

const std::vector<FunctionSpec>& product_functions();
// nullptr when `name` is not a product function.
const FunctionSpec* find_product_function(std::string_view name);

}  // namespace stratus::functions
