// Blocking work runs off the io thread and reports back on it, with what the work threw.

#include <gtest/gtest.h>

#include <stdexcept>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "stratus/emulator/blocking_work.hpp"

using stratus::emulator::BlockingWork;

TEST(BlockingWork, WorkRunsOnAnotherThreadAndTheAnswerOnTheIoThread) {
  boost::asio::io_context io;
  auto keep_running = boost::asio::make_work_guard(io);  // until the answer comes
  BlockingWork work(io, 1);
  const auto io_thread = std::this_thread::get_id();
  std::thread::id worker;
  std::thread::id answered_on;
  bool answered = false;
  work.run([&] { worker = std::this_thread::get_id(); },
           [&](std::exception_ptr error) {
             EXPECT_FALSE(error);
             answered_on = std::this_thread::get_id();
             answered = true;
             io.stop();
           });
  io.run_for(std::chrono::seconds(10));
  ASSERT_TRUE(answered);
  EXPECT_NE(worker, io_thread);
  EXPECT_EQ(answered_on, io_thread);
}

TEST(BlockingWork, WhatTheWorkThrowsReachesTheAnswer) {
  boost::asio::io_context io;
  auto keep_running = boost::asio::make_work_guard(io);
  BlockingWork work(io, 1);
  std::string message;
  work.run([] { throw std::runtime_error("disk full"); },
           [&](std::exception_ptr error) {
             ASSERT_TRUE(error);
             try {
               std::rethrow_exception(error);
             } catch (const std::runtime_error& e) {
               message = e.what();
             }
             io.stop();
           });
  io.run_for(std::chrono::seconds(10));
  EXPECT_EQ(message, "disk full");
}
