// The predict protocol (predict_protocol.hpp): input decoding, the forward pass, top-k.

#include "stratus/ml/predict_protocol.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "stratus/common/base64.hpp"
#include "stratus/common/tensor_codec.hpp"
#include "stratus/ml/architectures.hpp"
#include "stratus/ml/image_codec.hpp"
#include "stratus/ml/layers.hpp"
#include "stratus/ml/mlp_architecture.hpp"
#include "stratus/ml/worker_round.hpp"

namespace stratus::ml::predict {
namespace {

using nlohmann::json;
using ordered_json = nlohmann::ordered_json;

[[noreturn]] void refuse(const std::string& message) {
  throw ProtocolError(message);
}

Image decode_request_image(const json& event) {
  const auto& text = event["image"];
  if (!text.is_string()) refuse("\"image\" must be a base64 string");
  auto bytes = base64_decode(text.get_ref<const std::string&>());
  if (!bytes) refuse("\"image\" is not valid base64");
  try {
    return decode_image(*bytes);
  } catch (const ImageError& e) {
    refuse("\"image\": " + std::string(image_error_kind_name(e.kind())) + ": " + e.what());
  }
}

Tensor decode_request_tensor(const json& event) {
  const auto& text = event["tensor"];
  if (!text.is_string()) refuse("\"tensor\" must be a stratus-tensor/1 string");
  try {
    return decode_tensor(text.get_ref<const std::string&>(), 64u << 20);
  } catch (const TensorFormatError& e) {
    refuse(std::string("\"tensor\": ") + e.what());
  }
}

std::vector<float> case_b_probabilities(const ModelState& model, const json& event) {
  Shard shard;
  std::vector<std::uint8_t> chw(3 * 32 * 32);
  std::vector<std::uint8_t> hwc;
  if (event.contains("image")) {
    hwc = resize_bilinear(decode_request_image(event), 32, 32).rgb;
  } else {
    Tensor t = decode_request_tensor(event);
    if (t.dtype != DType::uint8 || t.shape != std::vector<std::uint64_t>{32, 32, 3}) {
      refuse("\"tensor\" must be uint8 [32,32,3] (HWC) for a Case B model");
    }
    hwc = std::move(t.u8);
  }
  for (std::size_t p = 0; p < 32 * 32; ++p) {
    for (std::size_t c = 0; c < 3; ++c) chw[c * 1024 + p] = hwc[p * 3 + c];
  }
  shard.features = Tensor::of_u8({1, 3, 32, 32}, std::move(chw));
  shard.labels = Tensor::of_i32({1}, {0});
  std::vector<float> logits = case_b_logits(model, shard);
  std::vector<float> probabilities(logits.size());
  softmax_forward(1, logits.size(), logits.data(), probabilities.data());
  return probabilities;
}

// How an mlp/1 model's training scaled pixels: "unit" x / 255 (layers, the default) or
// "centered" (x - 127.5) / 255 (Case C, the paper's scaling). The model file does not say, so the
// request does; a wrong choice shifts every input by 0.5 and quietly degrades the answer.
float (*pixel_scaling(const json& event))(double) {
  const std::string pixels = event.value("pixels", std::string("unit"));
  if (pixels == "unit") return [](double v) { return static_cast<float>(v / 255.0); };
  if (pixels == "centered") return [](double v) { return static_cast<float>((v - 127.5) / 255.0); };
  refuse("\"pixels\" must be unit or centered");
}

std::vector<float> mlp_probabilities(const ModelState& model,
                                     const std::vector<std::uint32_t>& widths, const json& event) {
  const std::uint32_t d = widths.front();
  std::vector<float> x;
  if (event.contains("image")) {
    const auto scale = pixel_scaling(event);
    const Image image = decode_request_image(event);
    if (d == 784) {
      const Image small = resize_bilinear(image, 28, 28);
      for (std::size_t p = 0; p < 784; ++p) {
        const double grey =
            0.299 * small.rgb[3 * p] + 0.587 * small.rgb[3 * p + 1] + 0.114 * small.rgb[3 * p + 2];
        x.push_back(scale(grey));
      }
    } else if (d == 3072) {
      for (std::uint8_t v : resize_bilinear(image, 32, 32).rgb) x.push_back(scale(v));
    } else {
      refuse("this model takes " + std::to_string(d) + " inputs: send a \"tensor\", not an image");
    }
  } else {
    Tensor t = decode_request_tensor(event);
    if (t.dtype != DType::float32 || t.size() != d) {
      refuse("\"tensor\" must be float32 with " + std::to_string(d) + " values for this model");
    }
    x = std::move(t.f32);
  }
  const std::string hidden = event.value("hidden", std::string("relu"));
  if (hidden != "relu" && hidden != "tanh") refuse("\"hidden\" must be relu or tanh");
  for (std::size_t l = 1; l < widths.size(); ++l) {
    std::vector<float> y(widths[l]);
    dense_forward({1, widths[l - 1], widths[l]}, x.data(), model.tensors[2 * (l - 1)].values.data(),
                  model.tensors[2 * (l - 1) + 1].values.data(), y.data());
    if (l + 1 < widths.size()) {
      if (hidden == "relu") {
        relu_forward(y.size(), y.data(), y.data());
      } else {
        tanh_forward(y.size(), y.data(), y.data());
      }
    }
    x = std::move(y);
  }
  if (x.size() == 1) {
    float p = 0;
    sigmoid_forward(1, x.data(), &p);
    return {1.0f - p, p};
  }
  std::vector<float> probabilities(x.size());
  softmax_forward(1, x.size(), x.data(), probabilities.data());
  return probabilities;
}

}  // namespace

std::shared_ptr<const ModelState> load_model(ObjectStore& store, const std::string& url) {
  if (!url.starts_with("s3://")) refuse("\"model\" must be s3://bucket/key");
  const std::string rest = url.substr(5);
  const auto slash = rest.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == rest.size())
    refuse("\"model\" must be s3://bucket/key");
  std::optional<std::string> bytes;
  try {
    bytes = store.get(rest.substr(0, slash), rest.substr(slash + 1));
  } catch (const ObjectStoreError& e) {
    refuse("\"model\" " + url + ": " + e.what());
  }
  if (!bytes) refuse("\"model\": no object at " + url);
  if (bytes->size() > kMaxModelObjectBytes) refuse("\"model\" is too large");
  try {
    return std::make_shared<const ModelState>(decode_model(*bytes, 2 * kMaxModelObjectBytes));
  } catch (const ModelFormatError& e) {
    refuse("\"model\" " + url + ": " + e.what());
  }
}

std::string serve(std::string_view request, const ModelLoader& models) {
  json event = json::parse(request, nullptr, false);
  if (event.is_discarded() || !event.is_object()) refuse("the event must be a JSON object");
  if (!event.contains("model") || !event["model"].is_string())
    refuse("missing \"model\" (s3://bucket/key)");
  if (event.contains("image") == event.contains("tensor"))
    refuse("send exactly one of \"image\" and \"tensor\"");
  const std::shared_ptr<const ModelState> model = models(event["model"].get<std::string>());
  std::vector<float> probabilities;
  if (model->architecture == kCaseB) {
    probabilities = case_b_probabilities(*model, event);
  } else if (const auto widths = mlp_widths(model->architecture)) {
    probabilities = mlp_probabilities(*model, *widths, event);
  } else {
    refuse("predict has no forward pass for '" + model->architecture + "'");
  }
  const std::size_t classes = probabilities.size();
  std::size_t top_k = std::min<std::size_t>(5, classes);
  if (event.contains("top_k")) {
    const auto& k = event["top_k"];
    if (!k.is_number_unsigned() || k.get<std::uint64_t>() == 0)
      refuse("\"top_k\" must be a positive integer");
    top_k = std::min<std::size_t>(k.get<std::uint64_t>(), classes);
  }
  std::vector<std::string> labels;
  if (event.contains("labels")) {
    const auto& l = event["labels"];
    if (!l.is_array() || l.size() != classes) {
      refuse("\"labels\" must list " + std::to_string(classes) + " names, one per class");
    }
    for (const auto& name : l) {
      if (!name.is_string()) refuse("\"labels\" must be strings");
      labels.push_back(name.get<std::string>());
    }
    std::vector<std::string> sorted = labels;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
      refuse("\"labels\" must be distinct");
  } else {
    for (std::size_t i = 0; i < classes; ++i) labels.push_back(std::to_string(i));
  }
  std::vector<std::size_t> order(classes);
  for (std::size_t i = 0; i < classes; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return probabilities[a] > probabilities[b];
  });
  ordered_json answer = ordered_json::object();
  for (std::size_t i = 0; i < top_k; ++i)
    answer[labels[order[i]]] = static_cast<double>(probabilities[order[i]]);
  return answer.dump();
}

}  // namespace stratus::ml::predict
