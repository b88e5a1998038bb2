#include "stratus/emulator/startup_hint.hpp"

namespace stratus::emulator {

std::vector<std::string> startup_hint(const std::string& endpoint, std::size_t function_count) {
  std::vector<std::string> lines;
  lines.push_back("serving " + std::to_string(function_count) + " function" + (function_count == 1 ? "" : "s") +
                  " at " + endpoint + " (Lambda and S3 on this one port)");
  lines.push_back("try: AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 "
                  "aws --endpoint-url " + endpoint + " lambda list-functions");
  if (function_count == 0) {
    lines.push_back("no functions yet: deploy one with `aws lambda create-function`, or start with "
                    "--config FILE or --template template.yaml");
  }
  return lines;
}

}  // namespace stratus::emulator
