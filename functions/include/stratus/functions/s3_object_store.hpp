#pragma once
// ml::ObjectStore over the project's S3 client: the emulator's S3 or AWS's. S3 errors become
// ml::ObjectStoreError with S3's code; a missing key is nullopt / false, as the interface says.

#include <memory>

#include "stratus/common/s3_client.hpp"
#include "stratus/ml/object_store.hpp"

namespace stratus::functions {

class S3ObjectStore : public ml::ObjectStore {
 public:
  explicit S3ObjectStore(aws::S3ClientOptions options);
  ~S3ObjectStore() override;

  std::optional<std::string> get(const std::string& bucket, const std::string& key) override;
  void put(const std::string& bucket, const std::string& key, std::string_view bytes) override;
  void remove(const std::string& bucket, const std::string& key) override;
  std::vector<std::string> list(const std::string& bucket, const std::string& prefix) override;
  bool exists(const std::string& bucket, const std::string& key) override;
  void ensure_bucket(const std::string& bucket) override;

  aws::S3Client& client() { return *client_; }

 private:
  std::unique_ptr<aws::S3Client> client_;
};

}  // namespace stratus::functions
