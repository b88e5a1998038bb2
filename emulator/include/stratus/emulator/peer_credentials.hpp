#pragma once
// Who is on the other end of a loopback TCP connection: the kernel's socket diagnostics
// (NETLINK_SOCK_DIAG) report the uid that owns the client's socket. An environment's Runtime API
// uses it to refuse requests from other environments' processes, which share the network.

#include <sys/types.h>

#include <cstdint>
#include <string_view>

namespace stratus::emulator {

enum class PeerLookup { Found, NotFound, Unavailable };

struct PeerUid {
  PeerLookup result = PeerLookup::Unavailable;
  uid_t uid = 0;
};

// `remote_address` is the client's "127.0.0.1:PORT" as the HTTP server reports it; `local_port`
// the server's port. Unavailable when the kernel refuses the query (then nothing is known).
PeerUid loopback_peer_uid(std::string_view remote_address, std::uint16_t local_port);

}  // namespace stratus::emulator
