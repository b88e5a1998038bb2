// `stratus-trainer augment` (augment_command.hpp): the images under --input split into --workers
// contiguous groups (sorted keys), one invocation each.

#include "augment_command.hpp"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common_options.hpp"
#include "stratus/ml/augment_protocol.hpp"
#include "stratus/trainer/fan_out.hpp"
#include "stratus/trainer/target.hpp"

namespace stratus::trainer {

struct AugmentCommand {
  CLI::App* app = nullptr;
  TargetFlags where;
  std::string bucket, input, output;
  std::uint32_t per_image = 4;
  std::uint32_t workers = 4;
  std::uint64_t seed = 1;
  double call_timeout_s = 300;
  OutputFlags print;  // --json only
};

namespace {

int run(const AugmentCommand& c) {
  Target target = make_target(c.where.options());
  if (target.kind == TargetKind::Local) {
    throw std::invalid_argument(
        "augment reads images from S3: give --target an emulator URL or aws");
  }
  std::vector<std::string> keys;
  for (const std::string& key : target.store->list(c.bucket, c.input)) {
    if (ml::augment::is_image_key(key)) keys.push_back(key);
  }
  if (keys.empty())
    throw std::invalid_argument("no .png/.jpg/.jpeg images under s3://" + c.bucket + "/" + c.input);
  const std::size_t workers = std::min<std::size_t>(c.workers, keys.size());
  std::vector<FanOutTask> tasks;
  for (std::size_t w = 0; w < workers; ++w) {
    // Contiguous groups, the first keys.size() % workers one key longer.
    const std::size_t base = keys.size() / workers, extra = keys.size() % workers;
    const std::size_t begin = w * base + std::min(w, extra),
                      end = begin + base + (w < extra ? 1 : 0);
    ml::augment::Request request{
        c.bucket,
        c.input,
        c.output,
        std::vector<std::string>(keys.begin() + static_cast<std::ptrdiff_t>(begin),
                                 keys.begin() + static_cast<std::ptrdiff_t>(end)),
        c.per_image,
        c.seed};
    tasks.push_back(
        {std::string(ml::augment::kFunction), ml::augment::encode_request(request),
         std::to_string(w),
         "worker " + std::to_string(w) + " (" + std::to_string(end - begin) + " images)"});
  }
  FanOutOptions options;
  options.max_in_flight = static_cast<int>(workers);
  options.call_deadline =
      std::chrono::milliseconds(static_cast<long long>(c.call_timeout_s * 1000));
  FanOut fan_out(*target.invoker, options);
  FanOutTelemetry telemetry;
  std::vector<ml::augment::Answer> answers(tasks.size());
  const auto start = std::chrono::steady_clock::now();
  fan_out.run(
      tasks,
      [&](std::size_t index, const std::string& payload) {
        answers[index] = ml::augment::decode_answer(payload);
        return std::to_string(index);
      },
      telemetry);
  const double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::uint64_t in = 0, out = 0, bytes_out = 0;
  for (const auto& a : answers) {
    in += a.images_in;
    out += a.images_out;
    bytes_out += a.bytes_out;
  }
  if (c.print.json) {
    std::cout << nlohmann::json{{"images_in", in},
                                {"images_out", out},
                                {"bytes_out", bytes_out},
                                {"workers", workers},
                                {"wall_s", wall_s},
                                {"invocations", telemetry.invocations},
                                {"cold_starts", telemetry.cold_starts},
                                {"billed_ms", telemetry.billed_ms},
                                {"cost_usd", telemetry.cost_usd}}
                     .dump()
              << "\n";
  } else {
    std::printf(
        "augment s3://%s/%s -> s3://%s/%s: %llu images in, %llu out (%u per image) by %zu workers "
        "in %.2f s; "
        "%d invocations, %d cold, billed %.0f ms, cost $%.8f\n",
        c.bucket.c_str(), c.input.c_str(), c.bucket.c_str(), c.output.c_str(),
        static_cast<unsigned long long>(in), static_cast<unsigned long long>(out), c.per_image,
        workers, wall_s, telemetry.invocations, telemetry.cold_starts, telemetry.billed_ms,
        telemetry.cost_usd);
  }
  return 0;
}

}  // namespace

Subcommand add_augment_command(CLI::App& app) {
  auto command = std::make_shared<AugmentCommand>();
  AugmentCommand& c = *command;
  c.app = app.add_subcommand("augment",
                             "write K seeded augmented variants of every image under an S3 prefix");
  CLI::App& a = *c.app;
  c.where.add_to(a, TargetChoice::remote);
  a.add_option("--bucket", c.bucket)->required();
  a.add_option("--input", c.input, "prefix of the source images (.png, .jpg, .jpeg)")->required();
  a.add_option("--output", c.output, "prefix the variants are written under")->required();
  a.add_option("--per-image", c.per_image, "variants per image (K)")
      ->check(CLI::Range(1u, ml::augment::kMaxPerImage))
      ->capture_default_str();
  a.add_option("--workers", c.workers, "concurrent functions")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  a.add_option("--seed", c.seed)->capture_default_str();
  a.add_option("--call-timeout", c.call_timeout_s, "seconds per invocation")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  c.print.add_to(a, "print the summary as one JSON object", nullptr);
  return {c.app, [command] { return run(*command); }};
}

}  // namespace stratus::trainer
