#include "live_invocations.hpp"

namespace stratus::trainer {

using namespace ml::averaging;

std::vector<AliveRecord> live_invocations(ml::ObjectStore& store, const std::string& bucket,
                                          const RunLayout& layout, std::uint64_t now_ms) {
  std::vector<AliveRecord> live;
  for (const std::string& key : store.list(bucket, layout.alive_prefix())) {
    const auto text = store.get(bucket, key);
    if (!text) continue;  // removed between the listing and the read: it ended
    try {
      const AliveRecord record = decode_alive(*text);
      if (record.running_at(now_ms)) live.push_back(record);
    } catch (const ProtocolError&) {
      // Says nothing about a running invocation.
    }
  }
  return live;
}

}  // namespace stratus::trainer
