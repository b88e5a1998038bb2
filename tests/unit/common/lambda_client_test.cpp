// aws::LambdaClient against a scripted stand-in server (stratus::HttpServer on 127.0.0.1): what it
// sends (paths, invocation headers, SigV4 for service "lambda", management bodies) and how it reads
// every kind of answer. Its behaviour against the real emulator is in tests/unit/trainer
// (remote_target_test) and tests/integration/test_deploy.py.

#include "stratus/common/lambda_client.hpp"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <functional>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "stratus/common/base64.hpp"
#include "stratus/common/http_server.hpp"

namespace stratus::aws {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using nlohmann::json;

HttpResponse reply(int status, std::string body,
                   std::vector<std::pair<std::string, std::string>> headers = {}) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  for (auto& [name, value] : headers) response.headers.add(name, value);
  return response;
}

// Records every request and answers with `answer` (200 "{}" by default), on its own I/O thread.
class StandIn : public HttpHandler {
 public:
  StandIn() : work_(asio::make_work_guard(io_)) {
    HttpServerOptions options;
    server_ = std::make_unique<HttpServer>(io_, *this, options);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~StandIn() override {
    std::promise<void> stopped;
    asio::post(io_, [&] {
      server_->stop();
      stopped.set_value();
    });
    stopped.get_future().wait();
    work_.reset();
    thread_.join();
  }

  Endpoint endpoint(const std::string& path = {}) const {
    return Endpoint::parse("http://127.0.0.1:" + std::to_string(server_->port()) + path);
  }

  std::function<HttpResponse(const HttpRequest&)> answer = [](const HttpRequest&) {
    return reply(200, "{}");
  };

  std::vector<HttpRequest> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

  HttpRequestPlan plan(const HttpRequestHead&) override { return {64 << 20, nullptr}; }
  HttpResponse reject_oversized(const HttpRequestHead&, const HttpRequestPlan&) override { return reply(413, ""); }
  void handle(HttpRequest request, HttpResponder respond) override {
    HttpResponse response = answer(request);
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(std::move(request));
    }
    respond(std::move(response));
  }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<HttpRequest> requests_;
};

LambdaClientOptions options_for(const StandIn& server, bool signed_calls = true,
                                const std::string& path = {}) {
  LambdaClientOptions options;
  options.endpoint = server.endpoint(path);
  options.region = "us-west-2";
  if (signed_calls) options.credentials = Credentials{"AKIDLAMBDATEST", "secret", ""};
  options.retry.base_delay = 1ms;
  return options;
}

json configuration(const std::string& name, const std::string& state = "Active",
                   const std::string& update = "Successful") {
  return {{"FunctionName", name},
          {"FunctionArn", "arn:aws:lambda:us-west-2:000000000000:function:" + name},
          {"State", state},
          {"LastUpdateStatus", update},
          {"Handler", name},
          {"Runtime", "provided.al2023"},
          {"MemorySize", 1769},
          {"Timeout", 60},
          {"CodeSha256", "abc="},
          {"RevisionId", "r1"}};
}

}  // namespace

TEST(LambdaClient, InvokeSendsLambdasHeadersSignedAndReadsTheAnswer) {
  StandIn server;
  server.answer = [](const HttpRequest&) {
    return reply(
        200, R"({"errorMessage":"no","errorType":"Bad"})",
        {{"X-Amz-Function-Error", "Handled"},
         {"X-Amz-Log-Result", base64_encode("START\nREPORT RequestId: x\tDuration: 1.00 ms\n")},
         {"x-amzn-RequestId", "req-1"}});
  };
  LambdaClient client(options_for(server, true, "/prefix"));
  InvokeOptions options;
  options.log_tail = true;
  options.qualifier = "v1";
  InvokeResult result = client.invoke("my-fn", R"({"a":1})", options);
  EXPECT_TRUE(result.accepted());
  EXPECT_EQ(result.status, 200);
  EXPECT_EQ(result.function_error, "Handled");
  EXPECT_EQ(result.request_id, "req-1");
  EXPECT_EQ(result.log_tail, "START\nREPORT RequestId: x\tDuration: 1.00 ms\n");
  EXPECT_EQ(result.payload, R"({"errorMessage":"no","errorType":"Bad"})");

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  const HttpRequest& sent = requests[0];
  EXPECT_EQ(sent.method, "POST");
  EXPECT_EQ(sent.target, "/prefix/2015-03-31/functions/my-fn/invocations?Qualifier=v1");
  EXPECT_EQ(sent.body, R"({"a":1})");
  EXPECT_EQ(sent.headers.get("X-Amz-Invocation-Type"), "RequestResponse");
  EXPECT_EQ(sent.headers.get("X-Amz-Log-Type"), "Tail");
  const std::string authorization = sent.headers.get("Authorization");
  EXPECT_EQ(authorization.rfind("AWS4-HMAC-SHA256 Credential=AKIDLAMBDATEST/", 0), 0u)
      << authorization;
  EXPECT_NE(authorization.find("/us-west-2/lambda/aws4_request"), std::string::npos)
      << authorization;
}

TEST(LambdaClient, ThrottlesAreReturnedNotRetried) {
  StandIn server;
  server.answer = [](const HttpRequest&) {
    return reply(
        429,
        R"({"Type":"User","message":"Rate exceeded","Reason":"ConcurrentInvocationLimitExceeded"})",
        {{"X-Amzn-ErrorType", "TooManyRequestsException:http://internal.amazon.com/coral/"},
         {"Retry-After", "2"}});
  };
  LambdaClient client(options_for(server, false));
  InvokeResult result = client.invoke("f", "{}");
  EXPECT_FALSE(result.accepted());
  EXPECT_EQ(result.status, 429);
  EXPECT_EQ(result.error_type, "TooManyRequestsException");
  ASSERT_TRUE(result.retry_after.has_value());
  EXPECT_EQ(*result.retry_after, 2000ms);
  EXPECT_EQ(result.attempts, 1);
  EXPECT_EQ(server.requests().size(), 1u);  // the caller decides about retries
  EXPECT_EQ(result.describe_refusal(server.endpoint()),
            "HTTP 429 TooManyRequestsException: Rate exceeded");
  EXPECT_EQ(server.requests()[0].headers.find("Authorization"),
            nullptr);  // unsigned without credentials
}

TEST(LambdaClient, EventInvocationsMustBeAccepted) {
  StandIn server;
  int status = 202;
  server.answer = [&](const HttpRequest&) {
    return status == 202 ? reply(202, "")
                         : reply(status, R"({"message":"Function not found"})",
                                 {{"X-Amzn-ErrorType", "ResourceNotFoundException"}});
  };
  LambdaClient client(options_for(server));
  client.invoke_event("worker", R"({"round":1})");
  EXPECT_EQ(server.requests().back().headers.get("X-Amz-Invocation-Type"), "Event");
  EXPECT_EQ(server.requests().back().headers.find("X-Amz-Log-Type"), nullptr);
  status = 404;
  try {
    client.invoke_event("worker", "{}");
    FAIL() << "a refused Event invoke passed";
  } catch (const LambdaError& error) {
    EXPECT_EQ(error.status(), 404);
    EXPECT_EQ(error.type(), "ResourceNotFoundException");
    EXPECT_NE(std::string(error.what()).find("Function not found"), std::string::npos)
        << error.what();
  }
}

TEST(LambdaClient, ManagementCallsSendLambdasDocumentsAndWaitForActive) {
  StandIn server;
  std::mutex mutex;
  int polls = 0;
  server.answer = [&](const HttpRequest& request) {
    if (request.method == "POST") return reply(201, configuration("worker", "Pending", "").dump());
    if (request.method == "GET" && request.target.find("/missing/") != std::string::npos) {
      return reply(404, R"({"message":"Function not found"})",
                   {{"X-Amzn-ErrorType", "ResourceNotFoundException"}});
    }
    std::lock_guard lock(mutex);
    ++polls;
    return reply(200, configuration("worker", polls < 3 ? "Pending" : "Active").dump());
  };
  LambdaClient client(options_for(server));
  FunctionDefinition definition;
  definition.name = "worker";
  definition.handler = "worker";
  definition.role = "arn:aws:iam::000000000000:role/r";
  definition.memory_mb = 1536;
  definition.timeout_s = 300;
  const FunctionState created = client.create_function(definition, std::string("PK\x03\x04zip", 7));
  EXPECT_EQ(created.state, "Pending");
  const json body = json::parse(server.requests()[0].body);
  EXPECT_EQ(server.requests()[0].target, "/2015-03-31/functions");
  EXPECT_EQ(body["FunctionName"], "worker");
  EXPECT_EQ(body["Runtime"], "provided.al2023");
  EXPECT_EQ(body["MemorySize"], 1536);
  EXPECT_EQ(body["Timeout"], 300);
  EXPECT_EQ(body["Role"], "arn:aws:iam::000000000000:role/r");
  EXPECT_EQ(body["Architectures"], json::array({"x86_64"}));
  EXPECT_EQ(base64_decode(body["Code"]["ZipFile"].get<std::string>()),
            std::string("PK\x03\x04zip", 7));

  const FunctionState ready = client.wait_until_ready("worker", 10s, 1ms);
  EXPECT_EQ(ready.state, "Active");
  EXPECT_EQ(ready.memory_mb, 1769);
  EXPECT_EQ(polls, 3);
  EXPECT_EQ(client.get_function_configuration("missing"), std::nullopt);

  client.set_memory_size("worker", 2048);
  EXPECT_EQ(server.requests().back().method, "PUT");
  EXPECT_EQ(server.requests().back().target, "/2015-03-31/functions/worker/configuration");
  EXPECT_EQ(json::parse(server.requests().back().body), (json{{"MemorySize", 2048}}));
  client.put_function_concurrency("worker", 0);
  EXPECT_EQ(server.requests().back().target, "/2017-10-31/functions/worker/concurrency");
  EXPECT_EQ(json::parse(server.requests().back().body),
            (json{{"ReservedConcurrentExecutions", 0}}));
}

TEST(LambdaClient, AFailedDeploymentAndAnUnreadableAnswerAreTypedErrors) {
  StandIn server;
  server.answer = [](const HttpRequest& request) {
    if (request.target.find("/garbled/") != std::string::npos)
      return reply(200, "<html>proxy</html>");
    json failed = configuration("broken", "Failed");
    failed["StateReason"] = "The role cannot be assumed";
    return reply(200, failed.dump());
  };
  LambdaClient client(options_for(server));
  try {
    client.wait_until_ready("broken", 10s, 1ms);
    FAIL();
  } catch (const LambdaError& error) {
    EXPECT_EQ(error.type(), "FunctionFailed");
    EXPECT_NE(std::string(error.what()).find("The role cannot be assumed"), std::string::npos);
  }
  try {
    client.get_function_configuration("garbled");
    FAIL();
  } catch (const LambdaError& error) {
    EXPECT_EQ(error.type(), "MalformedResponse");
  }
}

TEST(LambdaClient, AnUnreachableEndpointIsATransportErrorNotAnException) {
  LambdaClientOptions options;
  options.endpoint = Endpoint::parse("http://127.0.0.1:1");
  LambdaClient client(options);
  InvokeOptions invoke;
  invoke.deadline = 2s;
  InvokeResult result = client.invoke("f", "{}", invoke);
  EXPECT_FALSE(result.accepted());
  EXPECT_TRUE(result.transport_error);
  EXPECT_EQ(result.status, 0);
  EXPECT_EQ(result.describe_refusal(options.endpoint).rfind("cannot reach http://127.0.0.1:1: ", 0),
            0u)
      << result.describe_refusal(options.endpoint);
  EXPECT_THROW(client.invoke_event("f", "{}"), LambdaError);
}

}  // namespace stratus::aws
