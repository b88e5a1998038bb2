#include <gtest/gtest.h>

#include "stratus/trainer/invocation_report.hpp"

using namespace stratus::trainer;

TEST(InvocationReport, ParsesLambdasReportLine) {
  std::string tail =
      "START RequestId: abc Version: $LATEST\nhello\nEND RequestId: abc\n"
      "REPORT RequestId: abc\tDuration: 12.34 ms\tBilled Duration: 133 ms\tMemory Size: 1024 MB\t"
      "Max Memory Used: 45 MB\tInit Duration: 120.50 ms\t\n";
  auto r = parse_report(tail);
  ASSERT_TRUE(r.has_value());
  EXPECT_DOUBLE_EQ(r->duration_ms, 12.34);
  EXPECT_DOUBLE_EQ(r->billed_ms, 133);
  EXPECT_EQ(r->memory_mb, 1024);
  EXPECT_EQ(r->max_memory_used_mb, 45);
  ASSERT_TRUE(r->init_ms.has_value());
  EXPECT_DOUBLE_EQ(*r->init_ms, 120.5);
  EXPECT_NEAR(invocation_cost(*r, {}), 0.2e-6 + 1.0 * 0.133 * 0.0000166667, 1e-15);
}

TEST(InvocationReport, WarmStartHasNoInitAndGarbageIsNone) {
  auto r = parse_report("REPORT RequestId: x\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\t"
                        "Max Memory Used: 4 MB");
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->init_ms.has_value());
  EXPECT_FALSE(parse_report("no report here").has_value());
  EXPECT_FALSE(parse_report("REPORT RequestId: x\tDuration: soon").has_value());
}
