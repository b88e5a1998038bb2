#include <gtest/gtest.h>

#include "stratus/emulator/lambda/scheduler.hpp"

using namespace stratus::emulator;

TEST(Throttle, ReservedConcurrencyIsTheCap) {
  ConcurrencySnapshot s;
  s.function_reserved = 1;
  s.function_in_use = 0;
  EXPECT_EQ(decide_throttle(s), Throttle::None);
  s.function_in_use = 1;
  EXPECT_EQ(decide_throttle(s), Throttle::Reserved);
  EXPECT_STREQ(throttle_reason(Throttle::Reserved), "ReservedFunctionConcurrentInvocationLimitExceeded");
  s.function_reserved = 0;  // reserved 0 throttles everything
  s.function_in_use = 0;
  EXPECT_EQ(decide_throttle(s), Throttle::Reserved);
}

TEST(Throttle, ReservedIsAFloorAgainstTheAccount) {
  // The unreserved pool is exhausted, but a function with its own reservation still runs.
  ConcurrencySnapshot s;
  s.account_limit = 1000;
  s.reserved_total = 900;
  s.unreserved_in_use = 100;
  s.function_reserved = 900;
  s.function_in_use = 10;
  EXPECT_EQ(decide_throttle(s), Throttle::None);
  s.function_reserved.reset();
  EXPECT_EQ(decide_throttle(s), Throttle::Account);
  EXPECT_STREQ(throttle_reason(Throttle::Account), "ConcurrentInvocationLimitExceeded");
}

TEST(Throttle, UnreservedPoolIsAccountMinusReservations) {
  ConcurrencySnapshot s;
  s.account_limit = 1000;
  s.reserved_total = 200;
  s.unreserved_in_use = 799;
  EXPECT_EQ(decide_throttle(s), Throttle::None);
  s.unreserved_in_use = 800;
  EXPECT_EQ(decide_throttle(s), Throttle::Account);
}

TEST(Throttle, ScaleUpRate) {
  ConcurrencySnapshot s;
  s.scale_up_limit = 5;
  s.recent_spawns = 4;
  EXPECT_EQ(decide_throttle(s), Throttle::None);
  s.recent_spawns = 5;
  EXPECT_EQ(decide_throttle(s), Throttle::ScaleUpRate);
}

TEST(Throttle, WarmPlacementIsCappedByConcurrencyButNotByTheScaleUpRate) {
  ConcurrencySnapshot s;
  s.new_environment = false;  // a warm environment would take it
  s.scale_up_limit = 1;
  s.recent_spawns = 5;
  EXPECT_EQ(decide_throttle(s), Throttle::None);
  s.function_reserved = 2;
  s.function_in_use = 2;
  EXPECT_EQ(decide_throttle(s), Throttle::Reserved);
  s.function_reserved = 0;  // switched off: warm environments do not run it either
  s.function_in_use = 0;
  EXPECT_EQ(decide_throttle(s), Throttle::Reserved);
  s.function_reserved.reset();
  s.account_limit = 100;
  s.unreserved_in_use = 100;
  EXPECT_EQ(decide_throttle(s), Throttle::Account);
}
