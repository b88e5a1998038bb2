#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "stratus/emulator/metering.hpp"

using namespace stratus::emulator;

TEST(Metering, BilledDurationRoundsUpPerMillisecond) {
  EXPECT_EQ(billed_duration_ms(12.34, 0), 13);
  EXPECT_EQ(billed_duration_ms(12.0, 0), 12);
  EXPECT_EQ(billed_duration_ms(0.2, 0), 1);
  // Custom runtimes are billed for INIT too.
  EXPECT_EQ(billed_duration_ms(12.34, 120.5), 133);
}

TEST(Metering, ReportLineMatchesLambda) {
  InvocationMeasurement m;
  m.duration_ms = 12.34;
  m.init_ms = 120.5;
  m.memory_mb = 128;
  m.max_memory_used_mb = 45;
  EXPECT_EQ(format_report_line("id-1", m),
            "REPORT RequestId: id-1\tDuration: 12.34 ms\tBilled Duration: 133 ms\tMemory Size: 128 MB\t"
            "Max Memory Used: 45 MB\tInit Duration: 120.50 ms");
  m.init_ms = 0;
  EXPECT_EQ(format_report_line("id-1", m).find("Init Duration"), std::string::npos);
}

TEST(Metering, CostFollowsPriceTable) {
  Metering metering(PriceTable{});
  InvocationMeasurement m;
  m.function = "f";
  m.duration_ms = 999.2;  // billed 1000 ms
  m.memory_mb = 1024;     // 1 GB
  double cost = metering.record(m);
  EXPECT_NEAR(cost, 0.20 / 1e6 + 0.0000166667, 1e-12);
  m.architecture = "arm64";
  EXPECT_NEAR(metering.record(m), 0.20 / 1e6 + 0.0000133334, 1e-12);
  metering.record_throttle("f");
  auto usage = metering.usage_json();
  EXPECT_EQ(usage["functions"]["f"]["invocations"], 2);
  EXPECT_EQ(usage["functions"]["f"]["billed_ms"], 2000);
  EXPECT_EQ(usage["functions"]["f"]["throttles"], 1);
  EXPECT_EQ(usage["totals"]["invocations"], 2);
  auto text = metering.prometheus_text();
  EXPECT_NE(text.find("stratus_invocations_total{function=\"f\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE stratus_cost_usd_total counter"), std::string::npos);
}
