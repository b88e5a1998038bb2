#include "stratus/emulator/peer_credentials.hpp"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <string>

namespace stratus::emulator {

PeerUid loopback_peer_uid(std::string_view remote_address, std::uint16_t local_port) {
  PeerUid out;
  auto colon = remote_address.rfind(':');
  if (colon == std::string_view::npos) return {PeerLookup::NotFound, 0};
  std::string host(remote_address.substr(0, colon));
  unsigned port = 0;
  auto digits = remote_address.substr(colon + 1);
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  in_addr address{};
  if (ec != std::errc() || port == 0 || port > 65535 || ::inet_pton(AF_INET, host.c_str(), &address) != 1) {
    return {PeerLookup::NotFound, 0};
  }

  int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return out;
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } message{};
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST;
  message.request.sdiag_family = AF_INET;
  message.request.sdiag_protocol = IPPROTO_TCP;
  message.request.idiag_states = ~0u;
  // The client's socket: its source is the remote end we see, its destination our port.
  message.request.id.idiag_sport = htons(static_cast<std::uint16_t>(port));
  message.request.id.idiag_dport = htons(local_port);
  message.request.id.idiag_src[0] = address.s_addr;
  message.request.id.idiag_dst[0] = address.s_addr;  // loopback: both ends on the same address
  message.request.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  message.request.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd, &message, sizeof message, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) {
    ::close(fd);
    return out;
  }
  alignas(nlmsghdr) char buffer[8192];
  ssize_t n;
  do {
    n = ::recv(fd, buffer, sizeof buffer, 0);
  } while (n < 0 && errno == EINTR);
  ::close(fd);
  if (n <= 0) return out;
  auto* header = reinterpret_cast<nlmsghdr*>(buffer);
  auto length = static_cast<unsigned>(n);
  for (; NLMSG_OK(header, length); header = NLMSG_NEXT(header, length)) {
    if (header->nlmsg_type == NLMSG_ERROR) {
      auto* error = reinterpret_cast<nlmsgerr*>(NLMSG_DATA(header));
      // ENOENT: no such socket. Anything else: the query itself is not possible here.
      return {error->error == -ENOENT ? PeerLookup::NotFound : PeerLookup::Unavailable, 0};
    }
    if (header->nlmsg_type == SOCK_DIAG_BY_FAMILY) {
      auto* found = reinterpret_cast<inet_diag_msg*>(NLMSG_DATA(header));
      return {PeerLookup::Found, static_cast<uid_t>(found->idiag_uid)};
    }
  }
  return out;
}

}  // namespace stratus::emulator
