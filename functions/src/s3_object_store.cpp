#include "stratus/functions/s3_object_store.hpp"

namespace stratus::functions {

namespace {

[[noreturn]] void rethrow(const aws::S3Error& error) {
  throw ml::ObjectStoreError(
      error.what(), error.code().empty() ? "Http" + std::to_string(error.status()) : error.code());
}

}  // namespace

S3ObjectStore::S3ObjectStore(aws::S3ClientOptions options)
    : client_(std::make_unique<aws::S3Client>(std::move(options))) {}

S3ObjectStore::~S3ObjectStore() = default;

std::optional<std::string> S3ObjectStore::get(const std::string& bucket, const std::string& key) {
  try {
    return client_->get(bucket, key);
  } catch (const aws::S3Error& error) {
    // NoSuchBucket is a 404 too, and is an error: only a missing key is "nothing there".
    if (error.status() == 404 && error.code() == "NoSuchKey") return std::nullopt;
    rethrow(error);
  }
}

void S3ObjectStore::put(const std::string& bucket, const std::string& key, std::string_view bytes) {
  try {
    client_->put(bucket, key, bytes);
  } catch (const aws::S3Error& error) {
    rethrow(error);
  }
}

void S3ObjectStore::remove(const std::string& bucket, const std::string& key) {
  try {
    client_->remove(bucket, key);
  } catch (const aws::S3Error& error) {
    rethrow(error);
  }
}

std::vector<std::string> S3ObjectStore::list(const std::string& bucket, const std::string& prefix) {
  try {
    std::vector<std::string> keys;
    for (auto& object : client_->list(bucket, prefix)) keys.push_back(std::move(object.key));
    return keys;
  } catch (const aws::S3Error& error) {
    rethrow(error);
  }
}

bool S3ObjectStore::exists(const std::string& bucket, const std::string& key) {
  try {
    return client_->head_if_exists(bucket, key).has_value();
  } catch (const aws::S3Error& error) {
    rethrow(error);
  }
}

void S3ObjectStore::ensure_bucket(const std::string& bucket) {
  try {
    if (!client_->bucket_exists(bucket)) client_->create_bucket(bucket);
  } catch (const aws::S3Error& error) {
    rethrow(error);
  }
}

}  // namespace stratus::functions
