#pragma once
// Ctrl-C (SIGINT) or SIGTERM while a trainer command waits on its functions: the handler only sets
// a flag, which the run polls (Case A/B between their S3 polls, `stop` in its wait) and then ends
// the way it ends on a failure: stop flag set, kill switch restored, report written.

#include <functional>

namespace stratus::trainer {

// Installs the handlers and returns what a run polls: has either signal come since then?
std::function<bool()> catch_interrupts();

}  // namespace stratus::trainer
