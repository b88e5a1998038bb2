#include "stratus/ml/memory_object_store.hpp"

#include <mutex>

namespace stratus::ml {

namespace {

void require_names(const std::string& bucket, const std::string& key) {
  if (bucket.empty())
    throw ObjectStoreError("an object store bucket name cannot be empty", "InvalidBucketName");
  if (key.empty()) throw ObjectStoreError("an object key cannot be empty", "InvalidArgument");
}

}  // namespace

MemoryObjectStore::Bucket& MemoryObjectStore::bucket_or_throw(const std::string& bucket) {
  auto found = buckets_.find(bucket);
  if (found == buckets_.end()) {
    throw ObjectStoreError("the bucket '" + bucket + "' does not exist", "NoSuchBucket");
  }
  return found->second;
}

void MemoryObjectStore::count(const char* operation) {
  std::lock_guard lock(counts_mutex_);
  ++counts_[operation];
}

std::optional<std::string> MemoryObjectStore::get(const std::string& bucket,
                                                  const std::string& key) {
  require_names(bucket, key);
  count("get");
  std::shared_lock lock(mutex_);
  Bucket& objects = bucket_or_throw(bucket);
  auto found = objects.find(key);
  if (found == objects.end()) return std::nullopt;
  return found->second;
}

void MemoryObjectStore::put(const std::string& bucket, const std::string& key,
                            std::string_view bytes) {
  require_names(bucket, key);
  count("put");
  std::string copy(bytes);  // outside the lock: large objects do not stall readers
  std::unique_lock lock(mutex_);
  bucket_or_throw(bucket)[key] = std::move(copy);
}

void MemoryObjectStore::remove(const std::string& bucket, const std::string& key) {
  require_names(bucket, key);
  count("remove");
  std::unique_lock lock(mutex_);
  bucket_or_throw(bucket).erase(key);
}

std::vector<std::string> MemoryObjectStore::list(const std::string& bucket,
                                                 const std::string& prefix) {
  if (bucket.empty())
    throw ObjectStoreError("an object store bucket name cannot be empty", "InvalidBucketName");
  count("list");
  std::shared_lock lock(mutex_);
  Bucket& objects = bucket_or_throw(bucket);
  std::vector<std::string> keys;
  // std::map orders std::string by char_traits<char>::compare, i.e. as unsigned bytes: S3's order.
  for (auto it = objects.lower_bound(prefix); it != objects.end() && it->first.starts_with(prefix);
       ++it) {
    keys.push_back(it->first);
  }
  return keys;
}

bool MemoryObjectStore::exists(const std::string& bucket, const std::string& key) {
  require_names(bucket, key);
  count("exists");
  std::shared_lock lock(mutex_);
  return bucket_or_throw(bucket).count(key) != 0;
}

void MemoryObjectStore::ensure_bucket(const std::string& bucket) {
  if (bucket.empty())
    throw ObjectStoreError("an object store bucket name cannot be empty", "InvalidBucketName");
  std::unique_lock lock(mutex_);
  buckets_.try_emplace(bucket);
}

std::map<std::string, std::uint64_t> MemoryObjectStore::operation_counts() const {
  std::lock_guard lock(counts_mutex_);
  return counts_;
}

}  // namespace stratus::ml
