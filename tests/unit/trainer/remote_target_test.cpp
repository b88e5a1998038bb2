// The HTTP side of the workload architecture end to end against a real stratus-emulator process
// (STRATUS_EMULATOR, started once on a free loopback port): deploy_functions over
// aws::LambdaClient, then make_target(URL)'s three services: the HTTP invoker under the fan-out
// engine (REPORT lines, cold starts, the 404 hint), the S3 object store (missing key vs. missing
// bucket), and Event invocations (LambdaEventInvoker), which functions use to start each other.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "stratus/common/http_client.hpp"
#include "stratus/ml/object_store.hpp"
#include "stratus/trainer/deploy.hpp"
#include "stratus/trainer/fan_out.hpp"
#include "stratus/trainer/target.hpp"

extern char** environ;

using namespace stratus;
using namespace stratus::trainer;
using namespace std::chrono_literals;

namespace {

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// One emulator for the whole test program, in its own process group, stopped at exit.
class Emulator {
 public:
  static Emulator& instance() {
    static Emulator emulator;
    return emulator;
  }
  const std::string& url() const { return url_; }
  const std::string& problem() const { return problem_; }

  nlohmann::json usage() const {
    HttpRequest request;
    request.method = "GET";
    request.target = "/stratus/v1/usage";
    HttpResult result = http_request_blocking(Endpoint::parse(url_), std::move(request), 10s);
    return result.ok() ? nlohmann::json::parse(result.body) : nlohmann::json::object();
  }

 private:
  Emulator() {
    dir_ = std::filesystem::temp_directory_path() /
           ("stratus-remote-target-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "data");
    std::ofstream(dir_ / "config.json")
        << R"({"async": {"retry_delay_scale": 0.001}, "functions": []})";
    std::vector<std::string> args = {STRATUS_EMULATOR,
                                     "--config",
                                     (dir_ / "config.json").string(),
                                     "--bind",
                                     "127.0.0.1",
                                     "--port",
                                     "0",
                                     "--data-dir",
                                     (dir_ / "data").string()};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const std::string log = (dir_ / "emulator.log").string();
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attributes, 0);
    const int rc = ::posix_spawn(&pid_, argv[0], &actions, &attributes, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    if (rc != 0) {
      pid_ = -1;
      problem_ = std::string("cannot start ") + STRATUS_EMULATOR;
      return;
    }
    const auto give_up = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < give_up) {
      std::string text = read_text(dir_ / "data" / "emulator.endpoint");
      while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
      if (!text.empty()) {
        url_ = text;
        return;
      }
      std::this_thread::sleep_for(20ms);
    }
    problem_ = "the emulator did not start: " + read_text(dir_ / "emulator.log");
  }

  ~Emulator() {
    if (pid_ > 0) {
      ::kill(-pid_, SIGTERM);
      int status = 0;
      const auto give_up = std::chrono::steady_clock::now() + 20s;
      while (::waitpid(pid_, &status, WNOHANG) == 0 && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(20ms);
      }
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, &status, WNOHANG);
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::filesystem::path dir_;
  pid_t pid_ = -1;
  std::string url_;
  std::string problem_;
};

// The emulator with echo deployed (once), and a target pointing at it.
Target remote_target() {
  Emulator& emulator = Emulator::instance();
  if (!emulator.problem().empty()) throw std::runtime_error(emulator.problem());
  TargetOptions options;
  options.target = emulator.url();
  options.region = "us-east-1";
  static bool deployed = false;
  if (!deployed) {
    aws::LambdaClient lambda(resolve_remote(options).lambda);
    DeployRequest request;
    request.zip = STRATUS_FUNCTIONS_ZIP;
    request.only = {"echo"};
    auto result = deploy_functions(lambda, request);
    if (result.size() != 1 || result[0].state.state != "Active")
      throw std::runtime_error("echo not deployed");
    deployed = true;
  }
  return make_target(options);
}

std::uint64_t invocations_of(const std::string& function) {
  auto usage = Emulator::instance().usage();
  if (!usage.contains("functions") || !usage["functions"].contains(function)) return 0;
  return usage["functions"][function].value("invocations", std::uint64_t{0});
}

}  // namespace

TEST(RemoteTarget, TheHttpInvokerServesTheFanOutWithReportsAndColdStarts) {
  Target target = remote_target();
  EXPECT_EQ(target.kind, TargetKind::Url);
  std::vector<FanOutTask> tasks;
  for (int i = 0; i < 6; ++i) {
    const std::string key = std::to_string(i);
    tasks.push_back({"echo", R"({"key":")" + key + "\"}", key, "task " + key});
  }
  FanOutTelemetry telemetry;
  auto outcomes = FanOut(*target.invoker, {})
                      .run(
                          tasks,
                          [](std::size_t, const std::string& payload) {
                            return nlohmann::json::parse(payload).at("key").get<std::string>();
                          },
                          telemetry);
  ASSERT_EQ(outcomes.size(), 6u);
  for (const TaskOutcome& outcome : outcomes) {
    EXPECT_EQ(outcome.result.telemetry.status, 200);
    ASSERT_TRUE(outcome.result.telemetry.report.has_value());
    EXPECT_EQ(outcome.result.telemetry.report->memory_mb, 128);
    EXPECT_FALSE(outcome.result.telemetry.request_id.empty());
  }
  EXPECT_EQ(telemetry.invocations, 6);
  EXPECT_GE(telemetry.cold_starts, 1);
  EXPECT_GT(telemetry.billed_ms, 0);
  EXPECT_GT(telemetry.cost_usd, 0);

  InvocationResult missing = target.invoker->invoke("not-deployed", "{}");
  EXPECT_EQ(missing.telemetry.status, 404);
  EXPECT_EQ(missing.telemetry.error_type, "ResourceNotFoundException");
  EXPECT_NE(missing.telemetry.error.find("is function 'not-deployed' deployed at " +
                                         Emulator::instance().url()),
            std::string::npos)
      << missing.telemetry.error;
  InvocationResult not_json = target.invoker->invoke("echo", "not json");
  EXPECT_EQ(not_json.telemetry.status, 400);
  EXPECT_EQ(not_json.telemetry.error_type, "InvalidRequestContentException");
}

TEST(RemoteTarget, EventInvocationsReachTheFunction) {
  Target target = remote_target();
  const std::uint64_t before = invocations_of("echo");
  for (int i = 0; i < 3; ++i) target.events->invoke_event("echo", R"({"event":true})");
  const auto give_up = std::chrono::steady_clock::now() + 30s;
  while (invocations_of("echo") < before + 3 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(invocations_of("echo"), before + 3);
  try {
    target.events->invoke_event("not-deployed", "{}");
    FAIL() << "an Event invoke of a missing function was accepted";
  } catch (const ml::EventInvokeError& error) {
    EXPECT_NE(std::string(error.what()).find("ResourceNotFoundException"), std::string::npos)
        << error.what();
  }
}

TEST(RemoteTarget, TheObjectStoreIsTheEmulatorsS3) {
  Target target = remote_target();
  ml::ObjectStore& store = *target.store;
  try {
    store.get("no-such-bucket", "k");
    FAIL() << "a missing bucket read as a missing key";
  } catch (const ml::ObjectStoreError& error) {
    EXPECT_EQ(error.code(), "NoSuchBucket");
  }
  store.ensure_bucket("arch-runs");
  store.ensure_bucket("arch-runs");
  EXPECT_EQ(store.get("arch-runs", "runs/1/model"), std::nullopt);
  EXPECT_FALSE(store.exists("arch-runs", "runs/1/model"));
  const std::string bytes("model\0bytes", 11);
  store.put("arch-runs", "runs/1/model", bytes);
  store.put("arch-runs", "runs/1/worker-2", "w2");
  store.put("arch-runs", "runs/1/worker-10", "w10");
  store.put("arch-runs", "runs/2/model", "other run");
  EXPECT_EQ(store.get("arch-runs", "runs/1/model"), bytes);
  EXPECT_TRUE(store.exists("arch-runs", "runs/1/model"));
  EXPECT_EQ(store.list("arch-runs", "runs/1/"),
            (std::vector<std::string>{"runs/1/model", "runs/1/worker-10", "runs/1/worker-2"}));
  store.remove("arch-runs", "runs/1/model");
  store.remove("arch-runs", "runs/1/model");
  EXPECT_FALSE(store.exists("arch-runs", "runs/1/model"));
}

TEST(RemoteTarget, TheLambdaClientChangesMemoryAndConcurrency) {
  Target target = remote_target();
  aws::LambdaClient lambda(target.remote->lambda);
  const aws::FunctionState resized = lambda.set_memory_size("echo", 256);
  EXPECT_EQ(resized.memory_mb, 256);
  EXPECT_EQ(resized.handler, "echo");  // the rest of the configuration is left alone
  EXPECT_EQ(lambda.wait_until_ready("echo", 10s).memory_mb, 256);
  // Reserved concurrency 0 stops every invocation (throttled), until the reservation goes.
  lambda.put_function_concurrency("echo", 0);
  InvocationResult throttled = target.invoker->invoke("echo", "{}");
  EXPECT_EQ(throttled.telemetry.status, 429);
  EXPECT_EQ(throttled.telemetry.error_type, "TooManyRequestsException");
  lambda.delete_function_concurrency("echo");
  EXPECT_TRUE(target.invoker->invoke("echo", "{}").succeeded());
  lambda.set_memory_size("echo", 128);
  try {
    lambda.set_memory_size("echo", 64);
    FAIL() << "64 MB accepted";
  } catch (const aws::LambdaError& error) {
    EXPECT_EQ(error.status(), 400);
    EXPECT_EQ(error.type(), "InvalidParameterValueException");
  }
  EXPECT_EQ(lambda.get_function_configuration("not-deployed"), std::nullopt);
}
