#pragma once
// The object store of --target local: buckets of objects in this process's memory, thread-safe,
// with S3's semantics where a workload can tell (missing bucket refused, overwrite replaces,
// delete of a missing key succeeds, listings sorted by key).

#include <cstdint>
#include <map>
#include <mutex>
#include <shared_mutex>

#include "stratus/ml/object_store.hpp"

namespace stratus::ml {

class MemoryObjectStore : public ObjectStore {
 public:
  std::optional<std::string> get(const std::string& bucket, const std::string& key) override;
  void put(const std::string& bucket, const std::string& key, std::string_view bytes) override;
  void remove(const std::string& bucket, const std::string& key) override;
  std::vector<std::string> list(const std::string& bucket, const std::string& prefix) override;
  bool exists(const std::string& bucket, const std::string& key) override;
  void ensure_bucket(const std::string& bucket) override;

  // Operations served so far, by kind ("get", "put", "remove", "list", "exists"): what S3 would
  // have billed, for reports and tests.
  std::map<std::string, std::uint64_t> operation_counts() const;

 private:
  using Bucket = std::map<std::string, std::string>;
  // Throws ObjectStoreError NoSuchBucket; callers hold mutex_.
  Bucket& bucket_or_throw(const std::string& bucket);
  void count(const char* operation);

  mutable std::shared_mutex mutex_;
  std::map<std::string, Bucket> buckets_;
  mutable std::mutex counts_mutex_;
  std::map<std::string, std::uint64_t> counts_;
};

}  // namespace stratus::ml
