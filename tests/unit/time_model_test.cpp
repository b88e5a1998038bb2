#include "stratus/emulator/time_model.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "stratus/emulator/config.hpp"
#include "stratus/emulator/metering.hpp"
#include "stratus/emulator/s3_attribution.hpp"

using namespace stratus::emulator;

TEST(TimeModel, VcpuShareFollowsLambda) {
  EXPECT_DOUBLE_EQ(lambda_vcpus(1769), 1.0);
  EXPECT_NEAR(lambda_vcpus(512), 0.2894, 1e-4);
  EXPECT_DOUBLE_EQ(lambda_vcpus(10240), 10240 / 1769.0);
  EXPECT_DOUBLE_EQ(lambda_vcpus(20000), 6.0);
}

TEST(TimeModel, CpuWorkScaledByShareWithoutWaiting) {
  // 100 ms on a core, 900 ms waiting for one: the wait is the host's, not Lambda's.
  MeasuredPhase busy{1000, 100, 900, {}};
  EXPECT_NEAR(model_phase(busy, 1769).duration_ms, 100, 1e-9);
  EXPECT_NEAR(model_phase(busy, 512).duration_ms, 100 / (512 / 1769.0), 1e-9);
  // Single-threaded work is not faster above one vCPU.
  EXPECT_NEAR(model_phase(busy, 3538).duration_ms, 100, 1e-9);
  // Sleeping (off the CPU, not waiting for it) is kept.
  MeasuredPhase sleeper{1000, 100, 300, {}};
  auto m = model_phase(sleeper, 1769);
  EXPECT_NEAR(m.other_ms, 600, 1e-9);
  EXPECT_NEAR(m.duration_ms, 700, 1e-9);
  // Without schedstat nothing but CPU and S3 is counted.
  MeasuredPhase unknown{1000, 100, std::nullopt, {}};
  EXPECT_NEAR(model_phase(unknown, 1769).duration_ms, 100, 1e-9);
}

TEST(TimeModel, S3TimeReplacedByTheProfile) {
  S3Profile profile;
  profile.read = {40, 50};
  profile.write = {70, 20};
  EXPECT_NEAR(modeled_s3_request_ms(profile, false, 5'000'000), 40 + 100, 1e-9);
  EXPECT_NEAR(modeled_s3_request_ms(profile, true, 2'000'000), 70 + 100, 1e-9);
  S3Attribution attribution(profile);
  std::string key = attribution.register_environment("abc");
  EXPECT_TRUE(key.starts_with(kEnvironmentAccessKeyPrefix));
  S3Work before = attribution.totals(key);
  attribution.record(key, true, 2'000'000, 3);
  attribution.record(key, false, 5'000'000, 4);
  attribution.record("someone-else", false, 5'000'000, 4);  // not attributed
  S3Work work = attribution.totals(key) - before;
  EXPECT_EQ(work.requests, 2u);
  EXPECT_NEAR(work.modeled_ms, 310, 1e-9);
  EXPECT_NEAR(work.measured_ms, 7, 1e-9);
  // 50 ms of loopback S3 inside 60 ms off the CPU: only 10 ms of other waiting.
  MeasuredPhase phase{200, 100, 40, work};
  phase.s3.measured_ms = 50;
  auto m = model_phase(phase, 1769);
  EXPECT_NEAR(m.s3_ms, 310, 1e-9);
  EXPECT_NEAR(m.other_ms, 10, 1e-9);
  EXPECT_NEAR(m.duration_ms, 420, 1e-9);
  attribution.unregister(key);
  EXPECT_EQ(attribution.totals(key).requests, 0u);
}

TEST(TimeModel, BilledDurationAndCostByLambdasRules) {
  MeasuredPhase run{10, 10.2, 0, {}};
  MeasuredPhase init{50, 20, 30, {}};  // 30 ms waiting for a core during init
  auto m = model_invocation(run, init, 1769, "x86_64", PriceTable{});
  EXPECT_NEAR(m.init.duration_ms, 20, 1e-9);
  EXPECT_EQ(m.billed_ms, 31);  // ceil(10.2 + 20)
  EXPECT_NEAR(m.cost_usd, 0.2e-6 + 1769 / 1024.0 * 0.031 * 0.0000166667, 1e-15);
  auto arm = model_invocation(run, std::nullopt, 1769, "arm64", PriceTable{});
  EXPECT_EQ(arm.billed_ms, 11);
  EXPECT_NEAR(arm.cost_usd, 0.2e-6 + 1769 / 1024.0 * 0.011 * 0.0000133334, 1e-15);
  const ModeledText text = format_modeled(m);
  std::map<std::string, std::string> headers;
  for (const ModeledHeader& h : modeled_headers(text)) headers[std::string(h.name)] = std::string(h.value);
  EXPECT_EQ(headers.size(), kModeledHeaderCount);
  EXPECT_EQ(headers.at("X-Stratus-Modeled-Billed-Ms"), "31");
  EXPECT_EQ(headers.at("X-Stratus-Modeled-Duration-Ms"), "10.20");
  EXPECT_EQ(headers.at("X-Stratus-Modeled-Init-Ms"), "20.00");
  EXPECT_NE(format_modeled_line("id", m).find("Init Duration: 20.00 ms"), std::string::npos);
}

namespace {

std::string printf_number(const char* format, double value) {
  char buf[128];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

}  // namespace

// The figures are formatted with std::to_chars; the text must stay what printf's "%.2f", "%.10f"
// and "%.12g" gave (the documented format, parsed by the trainer and the tests).
TEST(TimeModel, ModeledTextIsPrintfsText) {
  const double values[] = {0.0,    0.004999, 0.005,       0.015,     1.005,      2.675,   10.2,
                           99.995, 123456.789, 899999.999, 2.0000033e-07, 1.6666700e-05,
                           3.3e-12, 0.12345678901234, 1e12,  -0.0};
  for (double v : values) {
    ModeledInvocation m;
    m.run = {v, v * 0.5, v * 0.25, v * 0.125};
    m.init.duration_ms = v;
    m.billed_ms = static_cast<std::int64_t>(v) + 1;
    m.s3_requests = 7;
    m.cost_usd = v * 1e-6;
    std::string expected = "MODELED RequestId: r-1\tDuration: " + printf_number("%.2f", m.run.duration_ms) +
                           " ms\tBilled Duration: " + std::to_string(m.billed_ms) +
                           " ms\tCPU: " + printf_number("%.2f", m.run.cpu_ms) +
                           " ms\tS3: " + printf_number("%.2f", m.run.s3_ms) + " ms (7 requests)\tOther: " +
                           printf_number("%.2f", m.run.other_ms) + " ms";
    if (v > 0) expected += "\tInit Duration: " + printf_number("%.2f", v) + " ms";
    expected += "\tCost: $" + printf_number("%.10f", m.cost_usd);
    EXPECT_EQ(format_modeled_line("r-1", m), expected) << v;
    const ModeledText text = format_modeled(m);
    EXPECT_EQ(text.cost_usd.view(), printf_number("%.12g", m.cost_usd)) << v;
    EXPECT_EQ(text.init_ms.view(), printf_number("%.2f", v)) << v;

    InvocationMeasurement r;
    r.duration_ms = v;
    r.init_ms = v;
    r.memory_mb = 1769;
    r.max_memory_used_mb = 45;
    std::string report = "REPORT RequestId: r-1\tDuration: " + printf_number("%.2f", v) +
                         "\tBilled Duration: " + std::to_string(billed_duration_ms(v, v)) +
                         " ms\tMemory Size: 1769 MB\tMax Memory Used: 45 MB";
    report.insert(report.find("\tBilled"), " ms");
    if (v > 0) report += "\tInit Duration: " + printf_number("%.2f", v) + " ms";
    EXPECT_EQ(format_report_line("r-1", r), report) << v;
  }
}

TEST(TimeModel, RunDelayOfThisProcessIsReadable) {
  auto delay = run_delay_ms(::getpid());
  ASSERT_TRUE(delay.has_value());
  EXPECT_GE(*delay, 0);
  EXPECT_FALSE(run_delay_ms(0).has_value());
}

TEST(TimeModel, MeteringSumsModeledFigures) {
  Metering metering(PriceTable{});
  InvocationMeasurement measured;
  measured.function = std::string(1, 'f');
  measured.duration_ms = 500;
  measured.memory_mb = 1024;
  auto modeled =
      model_invocation(MeasuredPhase{500, 40, 460, {}}, std::nullopt, 1024, "x86_64", PriceTable{});
  metering.record(measured, &modeled);
  metering.record(measured, nullptr);
  auto usage = metering.usage_json()["functions"]["f"];
  EXPECT_EQ(usage["invocations"], 2);
  EXPECT_EQ(usage["modeled"]["invocations"], 1);
  EXPECT_EQ(usage["modeled"]["billed_ms"], modeled.billed_ms);
  EXPECT_NE(metering.prometheus_text().find("stratus_modeled_cost_usd_total{function=\"f\"}"),
            std::string::npos);
}

TEST(TimeModelConfig, ParsesModeAndProfile) {
  EmulatorConfig config;
  EXPECT_EQ(config.time_model, TimeModelMode::Aws);
  apply_config_json(config, nlohmann::json::parse(R"({"time_model":"off",
      "s3_profile":{"read":{"first_byte_ms":20,"mb_per_s":90},"write":{"first_byte_ms":30}}})"),
                    "/");
  EXPECT_EQ(config.time_model, TimeModelMode::Off);
  EXPECT_DOUBLE_EQ(config.s3_profile.read.first_byte_ms, 20);
  EXPECT_DOUBLE_EQ(config.s3_profile.read.mb_per_s, 90);
  EXPECT_DOUBLE_EQ(config.s3_profile.write.first_byte_ms, 30);
  EXPECT_DOUBLE_EQ(config.s3_profile.write.mb_per_s, 85);
  for (const char* bad :
       {R"({"time_model":"gcp"})", R"({"time_model":1})",
        R"({"s3_profile":{"read":{"first_byte_ms":-1}}})",
        R"({"s3_profile":{"write":{"mb_per_s":0}}})", R"({"s3_profile":{"get":{}}})"}) {
    EmulatorConfig c;
    EXPECT_THROW(apply_config_json(c, nlohmann::json::parse(bad), "/"), ConfigError) << bad;
  }
}

TEST(TimeModelConfig, EnvironmentKeysShareTheFunctionsSecret) {
  SigV4Settings sigv4;
  EXPECT_EQ(sigv4.secret_for(std::string(kEnvironmentAccessKeyPrefix) + "0123abcd"),
            kFunctionSecretAccessKey);
  EXPECT_FALSE(sigv4.secret_for("STRATUS").has_value());
}
