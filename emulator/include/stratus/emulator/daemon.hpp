#pragma once
// Wires the emulator together and runs it: front server, scheduler, housekeeping timer, signals.

#include <memory>

#include "stratus/emulator/config.hpp"

namespace stratus::emulator {

class Daemon {
 public:
  explicit Daemon(EmulatorConfig config);
  ~Daemon();
  // Runs until SIGTERM/SIGINT and a clean shutdown. Throws on start-up failure (bad config,
  // address in use).
  void run();

 private:
  struct Parts;
  std::unique_ptr<Parts> parts_;
};

}  // namespace stratus::emulator
