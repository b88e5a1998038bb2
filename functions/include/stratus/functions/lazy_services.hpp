#pragma once
// Services built on first use. A function that never touches S3 (echo, gradient) must not fail,
// or pay for a client, because its environment lacks S3 settings; and a trainer command that
// never stages data needs no S3 credentials.

#include <functional>
#include <memory>
#include <mutex>

#include "stratus/ml/event_invoker.hpp"
#include "stratus/ml/object_store.hpp"

namespace stratus::functions {

class LazyObjectStore : public ml::ObjectStore {
 public:
  using Factory = std::function<std::unique_ptr<ml::ObjectStore>()>;
  explicit LazyObjectStore(Factory factory) : factory_(std::move(factory)) {}

  std::optional<std::string> get(const std::string& bucket, const std::string& key) override {
    return store().get(bucket, key);
  }
  void put(const std::string& bucket, const std::string& key, std::string_view bytes) override {
    store().put(bucket, key, bytes);
  }
  void remove(const std::string& bucket, const std::string& key) override {
    store().remove(bucket, key);
  }
  std::vector<std::string> list(const std::string& bucket, const std::string& prefix) override {
    return store().list(bucket, prefix);
  }
  bool exists(const std::string& bucket, const std::string& key) override {
    return store().exists(bucket, key);
  }
  void ensure_bucket(const std::string& bucket) override { store().ensure_bucket(bucket); }

  // The store itself, built now if it was not yet. A factory that throws is tried again next time.
  ml::ObjectStore& store() {
    std::lock_guard lock(mutex_);
    if (!store_) store_ = factory_();
    return *store_;
  }

 private:
  Factory factory_;
  std::mutex mutex_;
  std::unique_ptr<ml::ObjectStore> store_;
};

class LazyEventInvoker : public ml::EventInvoker {
 public:
  using Factory = std::function<std::unique_ptr<ml::EventInvoker>()>;
  explicit LazyEventInvoker(Factory factory) : factory_(std::move(factory)) {}

  void invoke_event(const std::string& function, std::string payload) override {
    invoker().invoke_event(function, std::move(payload));
  }

  ml::EventInvoker& invoker() {
    std::lock_guard lock(mutex_);
    if (!invoker_) invoker_ = factory_();
    return *invoker_;
  }

 private:
  Factory factory_;
  std::mutex mutex_;
  std::unique_ptr<ml::EventInvoker> invoker_;
};

}  // namespace stratus::functions
