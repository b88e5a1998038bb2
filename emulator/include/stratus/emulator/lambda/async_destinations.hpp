#pragma once
// Where the record of a finished asynchronous invocation goes: the function's DestinationConfig
// (PutFunctionEventInvokeConfig) names an OnSuccess and/or an OnFailure destination, another
// function (arn:aws:lambda:...:function:NAME, invoked asynchronously with the record as its event)
// or, for OnFailure only as on Lambda, an S3 bucket (arn:aws:s3:::BUCKET, one object per record).
// Failures are also appended to <data-dir>/async/on-failure.jsonl whatever is configured.

#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "stratus/emulator/config.hpp"
#include "stratus/emulator/lambda/function_config.hpp"

namespace stratus::emulator {

namespace s3 {
class ObjectStore;
}

enum class DestinationKind { Function, Bucket };

struct Destination {
  DestinationKind kind;
  std::string name;  // the function or bucket
};

// Parses a destination ARN; nullopt with `why` set when it is not one the emulator can deliver to.
std::optional<Destination> parse_destination_arn(const std::string& arn, bool on_failure,
                                                 std::string& why);

// The S3 key of a record: aws/lambda/async/<function>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<request id>.
std::string destination_object_key(const std::string& function, const std::string& request_id);

class AsyncDestinations {
 public:
  // Queues an Event invocation of `function` with `payload`; false when there is no such function.
  using EnqueueEvent = std::function<bool(const std::string& function, std::string payload)>;

  AsyncDestinations(const EmulatorConfig& config, s3::ObjectStore& store, EnqueueEvent enqueue);

  // Sends `record` (destination_record.hpp) to where `function` says. `function` may be null (a
  // deleted function): the record then only goes to the on-failure file.
  void deliver(const FunctionConfig* function, const nlohmann::json& record, bool success);

 private:
  void append_failure_file(const std::string& line, const std::string& request_id);
  void put_object(const std::string& bucket, const std::string& key, const std::string& body);

  const EmulatorConfig& config_;
  s3::ObjectStore& store_;
  EnqueueEvent enqueue_;
};

}  // namespace stratus::emulator
