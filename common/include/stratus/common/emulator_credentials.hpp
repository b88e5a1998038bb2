#pragma once
// The credentials a Stratus emulator hands to the functions it starts, so that SDK clients inside
// them can sign requests back to it; the emulator always accepts them, and a trainer aimed at a
// local emulator without credentials of its own uses them too. A name both sides agree on, not a
// secret.

namespace stratus {

inline constexpr const char* kEmulatorFunctionAccessKeyId = "stratus";
inline constexpr const char* kEmulatorFunctionSecretAccessKey = "stratus-secret";

}  // namespace stratus
