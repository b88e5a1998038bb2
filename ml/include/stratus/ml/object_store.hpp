#pragma once
// What a workload needs of S3: whole objects in and out, listings, buckets. Handlers and drivers
// use only this, so the same code runs over the emulator's S3 or AWS's (S3ObjectStore, in
// functions/) and over an in-process in-memory store for --target local (MemoryObjectStore).

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace stratus::ml {

// A refusal by the store other than a missing key: no such bucket, access denied, S3 unreachable.
// `code` is S3's error code where there is one ("NoSuchBucket", "AccessDenied", "SlowDown", ...).
class ObjectStoreError : public std::runtime_error {
 public:
  ObjectStoreError(const std::string& message, std::string code)
      : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

// Every member may be called from several threads at once. Errors throw ObjectStoreError.
class ObjectStore {
 public:
  virtual ~ObjectStore() = default;
  // nullopt: no such key (in an existing bucket).
  virtual std::optional<std::string> get(const std::string& bucket, const std::string& key) = 0;
  virtual void put(const std::string& bucket, const std::string& key, std::string_view bytes) = 0;
  // A missing key is fine.
  virtual void remove(const std::string& bucket, const std::string& key) = 0;
  // Every key starting with `prefix`, sorted (S3's binary UTF-8 order).
  virtual std::vector<std::string> list(const std::string& bucket, const std::string& prefix) = 0;
  virtual bool exists(const std::string& bucket, const std::string& key) = 0;
  // Creates the bucket unless it exists already.
  virtual void ensure_bucket(const std::string& bucket) = 0;
};

}  // namespace stratus::ml
