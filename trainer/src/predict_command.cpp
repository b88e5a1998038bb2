// `stratus-trainer predict` (predict_command.hpp).

#include "predict_command.hpp"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common_options.hpp"
#include "stratus/common/base64.hpp"
#include "stratus/ml/predict_protocol.hpp"
#include "stratus/trainer/fan_out.hpp"
#include "stratus/trainer/target.hpp"

namespace stratus::trainer {

struct PredictCommand {
  CLI::App* app = nullptr;
  TargetFlags where;
  std::string model;
  std::string image;
  std::size_t top_k = 5;
  std::string labels;
  std::string hidden = "relu";
  std::string pixels = "unit";
  std::string function = std::string(ml::predict::kFunction);
  OutputFlags print;  // --json only
};

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument("cannot read '" + path + "'");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

int run(const PredictCommand& c) {
  Target target = make_target(c.where.options());
  std::string model_url = c.model;
  if (!model_url.starts_with("s3://")) {
    if (target.kind != TargetKind::Local) {
      throw std::invalid_argument("--model must be s3://bucket/key with a remote --target");
    }
    // In-process: the model file goes into the in-memory store the local function reads.
    target.store->ensure_bucket("stratus-local");
    target.store->put("stratus-local", "models/model.bin", read_file(c.model));
    model_url = "s3://stratus-local/models/model.bin";
  }
  nlohmann::json event = {{"model", model_url},
                          {"image", base64_encode(read_file(c.image))},
                          {"top_k", c.top_k},
                          {"hidden", c.hidden},
                          {"pixels", c.pixels}};
  if (!c.labels.empty()) {
    std::vector<std::string> names;
    std::stringstream in(c.labels);
    for (std::string name; std::getline(in, name, ',');) names.push_back(name);
    event["labels"] = names;
  }
  FanOutOptions options;
  options.max_in_flight = 1;
  options.call_deadline = std::chrono::seconds(60);
  FanOut fan_out(*target.invoker, options);
  FanOutTelemetry telemetry;
  std::string answer;
  fan_out.run(
      {{c.function, event.dump(), "answer", "predict " + c.image}},
      [&](std::size_t, const std::string& payload) {
        answer = payload;
        return std::string("answer");
      },
      telemetry);
  const auto probabilities = nlohmann::ordered_json::parse(answer);
  if (c.print.json) {
    std::cout << probabilities.dump() << "\n";
    return 0;
  }
  std::printf("%s with %s (%s%s)\n", c.image.c_str(), model_url.c_str(),
              target.invoker->describe().c_str(), telemetry.cold_starts ? ", cold start" : "");
  std::printf("%-20s %12s\n", "label", "probability");
  for (const auto& [label, p] : probabilities.items())
    std::printf("%-20s %12.6f\n", label.c_str(), p.get<double>());
  return 0;
}

}  // namespace

Subcommand add_predict_command(CLI::App& app) {
  auto command = std::make_shared<PredictCommand>();
  PredictCommand& c = *command;
  c.app = app.add_subcommand("predict",
                             "classify an image with the predict function and a model in S3");
  CLI::App& a = *c.app;
  c.where.add_to(a);
  a.add_option("--model", c.model,
               "s3://bucket/key of a stratus-model/1 object (a local file with --target local)")
      ->required();
  a.add_option("--image", c.image, "PNG or JPEG file")->required()->check(CLI::ExistingFile);
  a.add_option("--top-k", c.top_k)->check(CLI::Range(1, 100000))->capture_default_str();
  a.add_option("--labels", c.labels, "class names, comma separated, one per class");
  a.add_option("--hidden", c.hidden, "mlp/1 models: hidden activation")
      ->check(CLI::IsMember({"relu", "tanh"}))
      ->capture_default_str();
  a.add_option("--pixels", c.pixels,
               "mlp/1 models: how training scaled pixels: unit = x/255 (layers), "
               "centered = (x-127.5)/255 (casec)")
      ->check(CLI::IsMember({"unit", "centered"}))
      ->capture_default_str();
  a.add_option("--function", c.function, "function name")->capture_default_str();
  c.print.add_to(a, "print the function's answer as is", nullptr);
  return {c.app, [command] { return run(*command); }};
}

}  // namespace stratus::trainer
