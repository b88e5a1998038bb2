#pragma once
// The S3 object store on disk, under <data-dir>/s3:
//
//   <bucket>/bucket.json                      creation time and region
//   <bucket>/objects/<h2>/<sha256(key)>       one object file each (object_file.hpp)
//   <bucket>/tmp/                             uploads in progress (removed at start-up)
//   <bucket>/uploads/<upload-id>/upload.json  a multipart upload and its parts part-00001 ...
//
// Object files are named by the SHA-256 of the key, so no key, however hostile ("../x", "/etc",
// NUL, 1024 bytes), can name a path outside its bucket or exceed a file-name limit; the key itself
// lives in the file's metadata. An in-memory index per bucket (key -> metadata, sorted) answers
// listings; it is rebuilt from the files at start-up.
//
// Threading: every member runs on the daemon's io thread, which owns the index. The slow disk work
// (fsync, assembling multipart objects, copies) runs on a small pool and reports back on the io
// thread; an object becomes visible when its file is renamed into place.

#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "stratus/common/http_message.hpp"
#include "stratus/emulator/blocking_work.hpp"
#include "stratus/emulator/s3/object_file.hpp"
#include "stratus/emulator/s3/s3_xml.hpp"

namespace stratus::emulator::s3 {

struct BucketInfo {
  std::string name;
  std::string region;
  std::int64_t created_ms = 0;
};

// A file being written in a bucket's tmp directory; removed unless committed.
class TempFile {
 public:
  TempFile(std::filesystem::path path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  int fd() const { return fd_; }
  const std::filesystem::path& path() const { return path_; }
  // Appends bytes; throws std::system_error (ENOSPC and friends).
  void append(std::string_view bytes);
  // Hands the file over: the destructor will no longer remove it.
  void release() { released_ = true; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  bool released_ = false;
};

struct OpenObject {
  std::shared_ptr<const int> fd;
  ObjectMeta meta;
};

struct ListRequest {
  std::string prefix;
  std::string delimiter;
  std::string start_after;  // exclusive; the continuation position
  std::size_t max_keys = 1000;
};

struct ListResult {
  std::vector<ObjectMeta> objects;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  std::string last_key;  // the last key or prefix returned, to continue after
};

struct PartInfo {
  int number = 0;
  std::uint64_t size = 0;
  std::string etag;  // no quotes
  std::int64_t last_modified_ms = 0;
};

struct UploadInfo {
  std::string id;
  std::string key;
  ObjectMeta initial;  // content type and user metadata given at creation
  std::int64_t created_ms = 0;
};

struct StoreOptions {
  bool fsync = true;  // flush object data before the rename that publishes it
  // Flushes wait on the disk, not the CPU: with fsync on, small PUTs need several in flight.
  std::size_t disk_threads = 8;
};

// Why the store refused an operation. The store speaks of buckets, objects and uploads; the S3
// endpoint maps each to S3's error (s3_error_for, s3_api) at its edge.
enum class StoreFailure {
  NoSuchBucket,
  BucketExists,
  BucketNotEmpty,
  NoSuchKey,
  NoSuchUpload,
  NoPartsListed,
  PartsOutOfOrder,
  NoSuchPart,  // not uploaded, or its ETag differs
  PartTooSmall,
};

class ObjectStoreError : public std::runtime_error {
 public:
  ObjectStoreError(StoreFailure failure, const std::string& what) : std::runtime_error(what), failure(failure) {}
  StoreFailure failure;
};

using CommitCallback = std::function<void(std::exception_ptr error, const ObjectMeta& meta)>;

// Refusals are thrown as ObjectStoreError (the StoreFailure named on each operation); disk
// failures as std::system_error.
class ObjectStore {
 public:
  ObjectStore(boost::asio::io_context& io, std::filesystem::path root, StoreOptions options = {});
  ~ObjectStore();

  // Reads every bucket and object, drops leftovers of interrupted uploads. Call once at start-up.
  void load();

  std::vector<BucketInfo> list_buckets() const;
  const BucketInfo* find_bucket(const std::string& name) const;
  // Throws ObjectStoreError: BucketExists.
  void create_bucket(const std::string& name, const std::string& region);
  // Throws ObjectStoreError: NoSuchBucket, BucketNotEmpty (objects or multipart uploads remain).
  void delete_bucket(const std::string& name);

  // A new temporary file in the bucket (throws NoSuchBucket).
  std::unique_ptr<TempFile> create_temp(const std::string& bucket);

  // Publishes `data` (which holds meta.size bytes of object data) as the object meta.key: appends
  // the metadata, flushes, renames it into place. `done` runs on the io thread.
  void commit_object(const std::string& bucket, std::unique_ptr<TempFile> data, ObjectMeta meta,
                     CommitCallback done);
  // Throws NoSuchBucket / NoSuchKey.
  OpenObject open_object(const std::string& bucket, const std::string& key) const;
  const ObjectMeta* find_object(const std::string& bucket, const std::string& key) const;
  // Removes the object if present (S3 answers 204 either way). Throws NoSuchBucket.
  void delete_object(const std::string& bucket, const std::string& key);
  // Copies the source object's data into a new object (new MD5 ETag, as S3 gives a copy).
  void copy_object(const std::string& source_bucket, const std::string& source_key,
                   const std::string& bucket, ObjectMeta meta, CommitCallback done);
  ListResult list(const std::string& bucket, const ListRequest& request) const;
  std::size_t object_count(const std::string& bucket) const;

  // Multipart uploads.
  std::string create_upload(const std::string& bucket, const ObjectMeta& initial);
  // Throws NoSuchBucket / NoSuchUpload.
  const UploadInfo& find_upload(const std::string& bucket, const std::string& upload_id) const;
  std::unique_ptr<TempFile> create_part_temp(const std::string& bucket, const std::string& upload_id);
  void commit_part(const std::string& bucket, const std::string& upload_id, int part_number,
                   std::unique_ptr<TempFile> data, ObjectMeta part_meta, CommitCallback done);
  std::vector<PartInfo> list_parts(const std::string& bucket, const std::string& upload_id) const;
  // Validates the list (PartsOutOfOrder, NoSuchPart, PartTooSmall), assembles the object, and
  // removes the upload. `done` gets the object's metadata.
  void complete_upload(const std::string& bucket, const std::string& upload_id,
                       std::vector<CompletedPart> parts, CommitCallback done);
  void abort_upload(const std::string& bucket, const std::string& upload_id);
  std::vector<UploadInfo> list_uploads(const std::string& bucket) const;

  // The io thread's context and the disk pool, for uploads that hash and write their pieces there.
  boost::asio::io_context& io() { return io_; }
  boost::asio::thread_pool::executor_type disk_executor() { return disk_.executor(); }
  bool fsyncs() const { return options_.fsync; }

 private:
  struct Bucket;
  Bucket& bucket_or_throw(const std::string& name) const;
  std::filesystem::path object_path(const Bucket& b, const std::string& key) const;
  void publish(const std::string& bucket, const std::string& key);
  void publish_committed(const std::string& bucket, ObjectMeta meta, const FileStamp& written,
                         const std::filesystem::path& target);

  boost::asio::io_context& io_;  // where callbacks run
  std::filesystem::path root_;
  StoreOptions options_;
  std::map<std::string, std::unique_ptr<Bucket>> buckets_;
  BlockingWork disk_;  // file writes, fsyncs, assembling multipart uploads
};

}  // namespace stratus::emulator::s3
