#pragma once
// Cgroups left behind by daemons that died without cleaning up (SIGKILL, a crash, a power cut).
// Each daemon owns "stratus-<pid>" under its own cgroup, with one "env-<id>" group per execution
// environment; a clean exit removes them, a killed daemon cannot. Left alone they pile up for ever
// (every start of a killed-daemon test leaves a few), so a starting daemon sweeps them.

#include <cstddef>
#include <filesystem>

namespace stratus::emulator {

// Removes every "stratus-<pid>" group directly under `base` whose pid names no live process, with
// its "env-*" children. Only empty groups can be removed (the kernel refuses rmdir of a group with
// members), so a group that still holds processes stays, as does every group of a live daemon.
// Returns how many groups were removed. Never throws.
std::size_t remove_stale_daemon_cgroups(const std::filesystem::path& base);

}  // namespace stratus::emulator
