// The `predict` handler: the predict protocol (stratus/ml/predict_protocol.hpp) with its models
// loaded from the context's store once per warm environment (one environment = one scratch
// directory, as in model_averaging_handler.cpp).

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "stratus/common/base64.hpp"
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
  // Behind a function URL the request arrives as a payload format 2.0 event: its body is the
  // predict request, and the answer goes back as an HTTP response (400 for a refused request).
  const auto event = nlohmann::json::parse(payload, nullptr, false);
  const bool from_url =
      event.is_object() && event.value("version", "") == "2.0" && event.contains("requestContext");
  if (!from_url) return ml::predict::serve(payload, loader);
  std::string body = event.value("body", "");
  if (event.value("isBase64Encoded", false)) {
    auto decoded = base64_decode(body);
    body = decoded ? std::move(*decoded) : std::string();
  }
  nlohmann::json response = {{"headers", {{"content-type", "application/json"}}}};
  try {
    response["body"] = ml::predict::serve(body, loader);
    response["statusCode"] = 200;
  } catch (const ml::ProtocolError& refused) {
    response["body"] =
        nlohmann::json{{"errorType", "InvalidInput"}, {"errorMessage", refused.what()}}.dump();
    response["statusCode"] = 400;
  }
  return response.dump();
}

}  // namespace stratus::functions
