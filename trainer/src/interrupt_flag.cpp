#include "interrupt_flag.hpp"

#include <atomic>
#include <csignal>

namespace stratus::trainer {

namespace {

std::atomic<bool> interrupt_requested{false};
extern "C" void on_interrupt(int) {
  interrupt_requested = true;
}

}  // namespace

std::function<bool()> catch_interrupts() {
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  return [] { return interrupt_requested.load(); };
}

}  // namespace stratus::trainer
