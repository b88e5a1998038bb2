#include "stratus/emulator/lambda/async_destinations.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "stratus/common/checksum.hpp"
#include "stratus/common/utc_time.hpp"
#include "stratus/emulator/s3/object_store.hpp"
#include "stratus/emulator/s3/s3_names.hpp"

namespace stratus::emulator {

using nlohmann::json;

std::optional<Destination> parse_destination_arn(const std::string& arn, bool on_failure,
                                                 std::string& why) {
  constexpr std::string_view kS3 = "arn:aws:s3:::";
  constexpr std::string_view kLambda = "arn:aws:lambda:";
  if (arn.compare(0, kS3.size(), kS3) == 0) {
    std::string bucket = arn.substr(kS3.size());
    if (!on_failure) {
      why = "Amazon S3 destinations are supported for OnFailure only";
      return std::nullopt;
    }
    if (auto problem = s3::bucket_name_problem(bucket)) {
      why = "'" + bucket + "' is not a valid bucket name: " + *problem;
      return std::nullopt;
    }
    return Destination{DestinationKind::Bucket, bucket};
  }
  if (arn.compare(0, kLambda.size(), kLambda) == 0) {
    // arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (true) {
      auto colon = arn.find(':', start);
      parts.push_back(arn.substr(start, colon - start));
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
    if ((parts.size() == 7 || parts.size() == 8) && parts[5] == "function" &&
        is_valid_function_name(parts[6]) && (parts.size() == 7 || parts[7] == "$LATEST")) {
      return Destination{DestinationKind::Function, parts[6]};
    }
    why = "a function destination must be arn:aws:lambda:REGION:ACCOUNT:function:NAME";
    return std::nullopt;
  }
  why = "this emulator delivers to Lambda functions and (OnFailure) S3 buckets only, not to '" +
        arn + "'";
  return std::nullopt;
}

std::string destination_object_key(const std::string& function, const std::string& request_id) {
  auto now = std::chrono::system_clock::now();
  return "aws/lambda/async/" + function + "/" + format_utc(now, "%Y/%m/%d/%Y-%m-%dT%H.%M.%S") +
         "-" + request_id;
}

AsyncDestinations::AsyncDestinations(const EmulatorConfig& config, s3::ObjectStore& store,
                                     EnqueueEvent enqueue)
    : config_(config), store_(store), enqueue_(std::move(enqueue)) {}

void AsyncDestinations::deliver(const FunctionConfig* function, const json& record, bool success) {
  const std::string request_id = record["requestContext"].value("requestId", "");
  std::string body = record.dump(-1, ' ', false, json::error_handler_t::replace);
  if (!success) append_failure_file(body + "\n", request_id);
  if (!function || !function->event_invoke_config) return;
  const json& config = function->event_invoke_config->destination_config;
  const char* which = success ? "OnSuccess" : "OnFailure";
  auto it = config.find(which);
  if (it == config.end() || !it->is_object()) return;
  std::string arn = it->value("Destination", "");
  if (arn.empty()) return;
  std::string why;
  auto destination = parse_destination_arn(arn, !success, why);
  if (!destination) {
    spdlog::warn("event {} of '{}': cannot deliver to {} destination {}: {}", request_id,
                 function->name, which, arn, why);
    return;
  }
  if (destination->kind == DestinationKind::Function) {
    if (!enqueue_(destination->name, body)) {
      spdlog::warn(
          "event {} of '{}': {} destination function '{}' does not exist; record not delivered",
          request_id, function->name, which, destination->name);
    }
    return;
  }
  put_object(destination->name, destination_object_key(function->name, request_id), body);
}

void AsyncDestinations::append_failure_file(const std::string& line,
                                            const std::string& request_id) {
  auto file = config_.data_dir / "async" / "on-failure.jsonl";
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  // One write per record with O_APPEND: records never interleave.
  bool written =
      fd >= 0 && ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  if (fd >= 0) ::close(fd);
  if (!written)
    spdlog::error("event {}: could not append its failure record to {}", request_id, file.string());
}

void AsyncDestinations::put_object(const std::string& bucket, const std::string& key,
                                   const std::string& body) {
  try {
    auto temp = store_.create_temp(bucket);
    temp->append(body);
    s3::ObjectMeta meta;
    meta.key = key;
    meta.size = body.size();
    Md5 md5;
    md5.update(body);
    meta.md5_hex = md5.hex();
    meta.etag = meta.md5_hex;
    meta.content_type = "application/json";
    meta.last_modified_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
    store_.commit_object(bucket, std::move(temp), std::move(meta),
                         [bucket, key](std::exception_ptr error, const s3::ObjectMeta&) {
                           if (!error) return;
                           try {
                             std::rethrow_exception(error);
                           } catch (const std::exception& e) {
                             spdlog::warn("destination s3://{}/{} not written: {}", bucket, key,
                                          e.what());
                           }
                         });
  } catch (const std::exception& e) {
    spdlog::warn("destination s3://{}/{} not written: {}", bucket, key, e.what());
  }
}

}  // namespace stratus::emulator
