#pragma once
// The `predict` function's protocol: classify one image (base64 PNG or JPEG) or tensor with a
// trained model held in S3, answering the top-k classes with their probabilities.
//
// Request:  {"model":"s3://bucket/key" (stratus-model/1 bytes), "image":"<base64 PNG/JPEG>" or
//            "tensor":"<stratus-tensor/1 text>", "top_k":k (default 5), "labels":[names]
//            (optional, one per class), "hidden":"relu"|"tanh" (mlp/1 models; default relu),
//            "pixels":"unit"|"centered" (mlp/1 models given an image: pixels / 255, as layers
//            trains, or (pixels - 127.5) / 255, as Case C trains; default unit)}
// Response: {"<label>": probability, ...}: the k most probable classes, most probable first
//           (ties: the lower class index first), labels the given names or the class indices.
// Models: cloud2018-caseb/1 (images resized to 32x32 RGB, pixels / 255; tensors uint8
// [32,32,3] HWC) and mlp/1:D-...-C (images as 28x28 grey when D = 784 or 32x32 RGB when
// D = 3072, scaled as "pixels" says; tensors float32 [D], used as given); softmax over C >= 2 outputs, sigmoid for C = 1
// (classes 0 and 1).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "stratus/ml/model_state.hpp"
#include "stratus/ml/object_store.hpp"
#include "stratus/ml/protocol_error.hpp"

namespace stratus::ml::predict {

inline constexpr std::string_view kFunction = "predict";
inline constexpr std::uint64_t kMaxModelObjectBytes = std::uint64_t{256} << 20;

// Gets the model of an s3:// URL: the handler caches models per warm environment behind this.
using ModelLoader = std::function<std::shared_ptr<const ModelState>(const std::string& url)>;
// Reads and decodes s3://bucket/key from the store (ProtocolError when missing or not a model).
std::shared_ptr<const ModelState> load_model(ObjectStore& store, const std::string& url);

std::string serve(std::string_view request, const ModelLoader& models);

}  // namespace stratus::ml::predict
