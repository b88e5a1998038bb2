#pragma once
// Recursive loop detection as Lambda does it: every invocation's trace header carries a Lineage
// field counting the invocations of the chain so far (Root=...;Parent=...;Sampled=0;Lineage=h:N).
// The emulator hands the runtime N+1, the function's SDK forwards it (X-Amzn-Trace-Id, from
// _X_AMZN_TRACE_ID) on the invokes it makes, and the emulator, seeing both ends, stops a chain
// whose next hop would pass the limit for functions whose recursion config is Terminate.

#include <string>
#include <string_view>

namespace stratus::emulator {

// The Lineage count of a trace header; 0 when there is none or it is malformed.
int lineage_hops(std::string_view trace_header);
// The trace header for the next invocation of a chain: the incoming Root kept when it has one.
std::string chain_trace_header(std::string_view incoming, int hops);

}  // namespace stratus::emulator
