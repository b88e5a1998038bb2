// The `predict` handler: the predict protocol (stratus/ml/predict_protocol.hpp) with its models
// loaded from the context's store once per warm environment (one environment = one scratch
// directory, as in model_averaging_handler.cpp).

#include <map>
#include <mutex>

#include "stratus/functions/handlers.hpp"
#include "stratus/ml/predict_protocol.hpp"

namespace stratus::functions {
namespace {

// A few models per environment at most: a warm environment keeps the ones it served last.
constexpr std::size_t kModelsPerEnvironment = 4;

struct EnvironmentModels {
  std::map<std::string, std::shared_ptr<const ml::ModelState>> models;
  std::vector<std::string> order;  // oldest first
};

}  // namespace

std::string predict_handler(std::string_view payload, HandlerContext& context) {
  static std::mutex mutex;
  static std::map<std::filesystem::path, EnvironmentModels> environments;
  const ml::predict::ModelLoader loader = [&](const std::string& url) {
    {
      std::lock_guard lock(mutex);
      auto& cached = environments[context.scratch_dir];
      if (auto it = cached.models.find(url); it != cached.models.end()) return it->second;
    }
    auto model = ml::predict::load_model(context.store, url);
    std::lock_guard lock(mutex);
    auto& cached = environments[context.scratch_dir];
    if (cached.models.emplace(url, model).second) {
      cached.order.push_back(url);
      if (cached.order.size() > kModelsPerEnvironment) {
        cached.models.erase(cached.order.front());
        cached.order.erase(cached.order.begin());
      }
    }
    return model;
  };
  return ml::predict::serve(payload, loader);
}

}  // namespace stratus::functions
