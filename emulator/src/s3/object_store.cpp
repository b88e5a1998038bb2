#include "stratus/emulator/s3/object_store.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <nlohmann/json.hpp>
#include <system_error>

#include "stratus/common/checksum.hpp"
#include "stratus/common/request_id.hpp"
#include "stratus/common/sigv4.hpp"
#include "stratus/emulator/atomic_file.hpp"

namespace stratus::emulator::s3 {

namespace fs = std::filesystem;

// S3's smallest part size for every part but the last.
inline constexpr std::uint64_t kMinPartBytes = 5ull * 1024 * 1024;

struct ObjectStore::Bucket {
  BucketInfo info;
  fs::path dir;
  std::map<std::string, ObjectMeta> objects;
  std::map<std::string, UploadInfo> uploads;
  std::map<std::string, bool> completing;  // upload id -> complete in progress
};

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

std::string part_file_name(int number) {
  char name[16];
  std::snprintf(name, sizeof name, "part-%05d", number);
  return name;
}

std::string unquote(std::string etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"')
    etag = etag.substr(1, etag.size() - 2);
  return etag;
}

int open_read(const fs::path& path) {
  return ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
}

// Flushes and renames a finished file into place; makes the rename durable too when asked.
void publish_file(int fd, const fs::path& from, const fs::path& to, bool flush) {
  if (flush && ::fdatasync(fd) != 0) throw_errno("flush " + from.string());
  // The objects/<h2> directory exists after the first object under it: try the rename first.
  if (::rename(from.c_str(), to.c_str()) != 0) {
    if (errno != ENOENT) throw_errno("rename " + from.string());
    fs::create_directories(to.parent_path());
    if (::rename(from.c_str(), to.c_str()) != 0) throw_errno("rename " + from.string());
  }
  if (flush) {
    int dir = ::open(to.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
      ::fsync(dir);
      ::close(dir);
    }
  }
}

// Copies `length` bytes of `in` (from 0) to the end of `out`, in the kernel where it can.
void copy_range(int in, int out, std::uint64_t length) {
  loff_t in_offset = 0;
  while (length > 0) {
    ssize_t n = ::copy_file_range(in, &in_offset, out, nullptr, length, 0);
    if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL)) break;
    if (n < 0) throw_errno("copy");
    if (n == 0) throw std::runtime_error("copy: source ended early");
    length -= static_cast<std::uint64_t>(n);
  }
  std::vector<char> buffer(1 << 20);
  while (length > 0) {
    ssize_t n =
        ::pread(in, buffer.data(), std::min<std::uint64_t>(buffer.size(), length), in_offset);
    if (n <= 0) throw std::runtime_error("copy: source ended early");
    if (::write(out, buffer.data(), static_cast<std::size_t>(n)) != n) throw_errno("copy");
    in_offset += n;
    length -= static_cast<std::uint64_t>(n);
  }
}

}  // namespace

TempFile::~TempFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!released_) {
    std::error_code ec;
    fs::remove(path_, ec);
  }
}

void TempFile::append(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("write " + path_.string());
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

ObjectStore::ObjectStore(boost::asio::io_context& io, fs::path root, StoreOptions options)
    : io_(io), root_(std::move(root)), options_(options), disk_(io, options.disk_threads) {}

ObjectStore::~ObjectStore() = default;  // disk_ waits for work already running

void ObjectStore::load() {
  fs::create_directories(root_);
  std::size_t object_total = 0;
  for (const auto& entry : fs::directory_iterator(root_)) {
    if (!entry.is_directory()) continue;
    auto info_file = entry.path() / "bucket.json";
    std::error_code ec;
    if (!fs::exists(info_file, ec)) continue;
    auto bucket = std::make_unique<Bucket>();
    bucket->dir = entry.path();
    try {
      std::ifstream in(info_file);
      auto j = nlohmann::json::parse(in);
      bucket->info.name = entry.path().filename().string();
      bucket->info.region = j.value("region", "us-east-1");
      bucket->info.created_ms = j.value("created_ms", std::int64_t{0});
    } catch (const std::exception& e) {
      spdlog::warn("s3: skipping bucket directory {}: {}", entry.path().string(), e.what());
      continue;
    }
    // Leftovers of uploads interrupted by a crash: never published, so never visible.
    fs::remove_all(bucket->dir / "tmp", ec);
    fs::create_directories(bucket->dir / "tmp");
    if (fs::exists(bucket->dir / "objects", ec)) {
      for (const auto& file : fs::recursive_directory_iterator(bucket->dir / "objects")) {
        if (!file.is_regular_file()) continue;
        int fd = open_read(file.path());
        if (fd < 0) continue;
        auto meta = read_object_meta(fd);
        ::close(fd);
        if (!meta || aws::sha256_hex(meta->key) != file.path().filename().string()) {
          spdlog::warn("s3: ignoring unreadable object file {}", file.path().string());
          continue;
        }
        bucket->objects[meta->key] = std::move(*meta);
      }
    }
    if (fs::exists(bucket->dir / "uploads", ec)) {
      for (const auto& dir : fs::directory_iterator(bucket->dir / "uploads")) {
        try {
          std::ifstream in(dir.path() / "upload.json");
          auto j = nlohmann::json::parse(in);
          UploadInfo upload;
          upload.id = dir.path().filename().string();
          upload.key = j.at("key").get<std::string>();
          upload.created_ms = j.value("created_ms", std::int64_t{0});
          upload.initial.key = upload.key;
          upload.initial.content_type = j.value("content_type", "");
          upload.initial.content_encoding = j.value("content_encoding", "");
          upload.initial.content_disposition = j.value("content_disposition", "");
          upload.initial.cache_control = j.value("cache_control", "");
          upload.initial.user_metadata = j.value("metadata", std::map<std::string, std::string>{});
          for (const auto& f : fs::directory_iterator(dir.path())) {
            if (f.path().filename().string().rfind(".tmp-", 0) == 0) fs::remove(f.path(), ec);
          }
          bucket->uploads[upload.id] = std::move(upload);
        } catch (const std::exception& e) {
          spdlog::warn("s3: removing unreadable upload {}: {}", dir.path().string(), e.what());
          fs::remove_all(dir.path(), ec);
        }
      }
    }
    object_total += bucket->objects.size();
    buckets_[bucket->info.name] = std::move(bucket);
  }
  spdlog::info("s3: {} buckets, {} objects under {}", buckets_.size(), object_total,
               root_.string());
}

std::vector<BucketInfo> ObjectStore::list_buckets() const {
  std::vector<BucketInfo> out;
  for (const auto& [name, b] : buckets_) out.push_back(b->info);
  return out;
}

const BucketInfo* ObjectStore::find_bucket(const std::string& name) const {
  auto it = buckets_.find(name);
  return it == buckets_.end() ? nullptr : &it->second->info;
}

ObjectStore::Bucket& ObjectStore::bucket_or_throw(const std::string& name) const {
  auto it = buckets_.find(name);
  if (it == buckets_.end())
    throw ObjectStoreError(StoreFailure::NoSuchBucket, "The specified bucket does not exist");
  return *it->second;
}

void ObjectStore::create_bucket(const std::string& name, const std::string& region) {
  if (buckets_.count(name)) {
    throw ObjectStoreError(
        StoreFailure::BucketExists,
        "Your previous request to create the named bucket succeeded and you already own it.");
  }
  auto bucket = std::make_unique<Bucket>();
  bucket->dir = root_ / name;
  bucket->info = {name, region, now_ms()};
  fs::create_directories(bucket->dir / "tmp");
  fs::create_directories(bucket->dir / "objects");
  fs::create_directories(bucket->dir / "uploads");
  write_file_atomically(
      bucket->dir / "bucket.json",
      nlohmann::json{{"region", region}, {"created_ms", bucket->info.created_ms}}.dump());
  buckets_[name] = std::move(bucket);
}

void ObjectStore::delete_bucket(const std::string& name) {
  Bucket& b = bucket_or_throw(name);
  if (!b.objects.empty() || !b.uploads.empty()) {
    throw ObjectStoreError(StoreFailure::BucketNotEmpty, "The bucket you tried to delete is not empty");
  }
  // bucket.json goes first: a crash half-way leaves a directory that load() ignores.
  fs::remove(b.dir / "bucket.json");
  std::error_code ec;
  fs::remove_all(b.dir, ec);
  buckets_.erase(name);
}

std::unique_ptr<TempFile> ObjectStore::create_temp(const std::string& bucket) {
  Bucket& b = bucket_or_throw(bucket);
  auto path = b.dir / "tmp" / ("up-" + make_hex_id(24));
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) throw_errno("create " + path.string());
  return std::make_unique<TempFile>(path, fd);
}

fs::path ObjectStore::object_path(const Bucket& b, const std::string& key) const {
  // The algorithm is fetched once: a one-shot SHA256() looks it up again on every call.
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  std::string hash;
  if (sha256 && EVP_Digest(key.data(), key.size(), digest, &length, sha256, nullptr) == 1) {
    static constexpr char kHex[] = "0123456789abcdef";
    hash.resize(length * 2);
    for (unsigned i = 0; i < length; ++i) {
      hash[2 * i] = kHex[digest[i] >> 4];
      hash[2 * i + 1] = kHex[digest[i] & 15];
    }
  } else {
    hash = aws::sha256_hex(key);
  }
  std::string path = b.dir.native();
  path.reserve(path.size() + 12 + hash.size());
  path.append("/objects/").append(hash, 0, 2).append("/").append(hash);
  return fs::path(std::move(path));
}

// Called on the io thread after a file was renamed into place: the index takes what is on disk
// now (another commit of the same key may have landed in between; the file is the truth).
void ObjectStore::publish(const std::string& bucket, const std::string& key) {
  auto it = buckets_.find(bucket);
  if (it == buckets_.end()) return;
  int fd = open_read(object_path(*it->second, key));
  if (fd < 0) {
    it->second->objects.erase(key);
    return;
  }
  auto meta = read_object_meta(fd);
  ::close(fd);
  if (meta && meta->key == key) it->second->objects[key] = std::move(*meta);
}

// After this commit's file was renamed to `target`: the index takes the metadata in hand when the
// file there is still the one written (one stat), else what is on disk now (a later commit of the
// same key, or a delete, landed in between).
void ObjectStore::publish_committed(const std::string& bucket, ObjectMeta meta,
                                    const FileStamp& written, const fs::path& target) {
  auto it = buckets_.find(bucket);
  if (it == buckets_.end()) return;
  struct stat st {};
  if (::stat(target.c_str(), &st) == 0 && static_cast<std::uint64_t>(st.st_ino) == written.inode &&
      static_cast<std::uint64_t>(st.st_size) == written.bytes) {
    meta.file = written;
    it->second->objects[meta.key] = std::move(meta);
    return;
  }
  publish(bucket, meta.key);
}

void ObjectStore::commit_object(const std::string& bucket, std::unique_ptr<TempFile> data,
                                ObjectMeta meta, CommitCallback done) {
  Bucket& b = bucket_or_throw(bucket);
  meta.last_modified_ms = now_ms();
  data->append(encode_object_trailer(meta));
  auto target = object_path(b, meta.key);
  const FileStamp written = file_stamp(data->fd());
  if (!options_.fsync) {
    // Nothing to wait for: the rename takes microseconds, so it happens here, in order with every
    // other io-thread change of the index, without two thread hops. `done` still runs later, as
    // with the disk pool.
    std::exception_ptr error;
    try {
      publish_file(data->fd(), data->path(), target, false);
      data->release();
      meta.file = written;
      b.objects[meta.key] = meta;
    } catch (...) {
      error = std::current_exception();
    }
    boost::asio::post(io_, [this, data = std::shared_ptr<TempFile>(std::move(data)), error,
                            meta = std::move(meta), done = std::move(done)] {
      done(error, meta);
    });
    return;
  }
  std::shared_ptr<TempFile> file(std::move(data));
  disk_.run(
      [file, target] {
        publish_file(file->fd(), file->path(), target, true);
        file->release();
      },
      [this, file, bucket, target, written, meta = std::move(meta),
       done = std::move(done)](std::exception_ptr error) {
        if (!error) publish_committed(bucket, meta, written, target);
        done(error, meta);
      });
}

OpenObject ObjectStore::open_object(const std::string& bucket, const std::string& key) const {
  Bucket& b = bucket_or_throw(bucket);
  int fd = open_read(object_path(b, key));
  if (fd < 0) throw ObjectStoreError(StoreFailure::NoSuchKey, "The specified key does not exist.");
  auto owner = share_fd(fd);
  // The index describes this very file (same inode, size and mtime): no need to parse its trailer.
  auto indexed = b.objects.find(key);
  if (indexed != b.objects.end() && indexed->second.file.inode != 0 &&
      file_stamp(fd) == indexed->second.file) {
    return {owner, indexed->second};
  }
  auto meta = read_object_meta(fd);
  if (!meta || meta->key != key)
    throw ObjectStoreError(StoreFailure::NoSuchKey, "The specified key does not exist.");
  return {owner, std::move(*meta)};
}

const ObjectMeta* ObjectStore::find_object(const std::string& bucket,
                                           const std::string& key) const {
  Bucket& b = bucket_or_throw(bucket);
  auto it = b.objects.find(key);
  return it == b.objects.end() ? nullptr : &it->second;
}

void ObjectStore::delete_object(const std::string& bucket, const std::string& key) {
  Bucket& b = bucket_or_throw(bucket);
  std::error_code ec;
  fs::remove(object_path(b, key), ec);
  b.objects.erase(key);
}

void ObjectStore::copy_object(const std::string& source_bucket, const std::string& source_key,
                              const std::string& bucket, ObjectMeta meta, CommitCallback done) {
  OpenObject source = open_object(source_bucket, source_key);
  auto temp = std::shared_ptr<TempFile>(create_temp(bucket));
  Bucket& b = bucket_or_throw(bucket);
  auto target = object_path(b, meta.key);
  meta.size = source.meta.size;
  meta.parts = 0;
  meta.checksums.clear();
  bool flush = options_.fsync;
  auto result = std::make_shared<ObjectMeta>(std::move(meta));
  disk_.run(
      [source, temp, target, flush, result] {
        ObjectMeta& meta = *result;
        // Read rather than copy in the kernel: the copy's ETag is the MD5 of its bytes.
        Md5 md5;
        std::vector<char> buffer(1 << 20);
        std::uint64_t offset = 0;
        while (offset < meta.size) {
          ssize_t n = ::pread(*source.fd, buffer.data(),
                              std::min<std::uint64_t>(buffer.size(), meta.size - offset),
                              static_cast<off_t>(offset));
          if (n <= 0) throw std::runtime_error("copy: source ended early");
          md5.update(buffer.data(), static_cast<std::size_t>(n));
          temp->append(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
          offset += static_cast<std::uint64_t>(n);
        }
        meta.md5_hex = md5.hex();
        meta.etag = meta.md5_hex;
        meta.last_modified_ms = now_ms();
        temp->append(encode_object_trailer(meta));
        publish_file(temp->fd(), temp->path(), target, flush);
        temp->release();
      },
      [this, temp, bucket, result, done = std::move(done)](std::exception_ptr error) {
        if (!error) publish(bucket, result->key);
        done(error, *result);
      });
}

ListResult ObjectStore::list(const std::string& bucket, const ListRequest& request) const {
  Bucket& b = bucket_or_throw(bucket);
  ListResult out;
  const std::string& prefix = request.prefix;
  const std::string& delimiter = request.delimiter;
  auto it = b.objects.lower_bound(std::max(prefix, request.start_after));
  // Continuing after a common prefix: every key under it was already summarised by it.
  std::string skip_under;
  if (!delimiter.empty() && request.start_after.size() > prefix.size() &&
      request.start_after.compare(0, prefix.size(), prefix) == 0 &&
      request.start_after.size() >= delimiter.size() &&
      request.start_after.compare(request.start_after.size() - delimiter.size(), delimiter.size(),
                                  delimiter) == 0) {
    skip_under = request.start_after;
  }
  std::size_t returned = 0;
  for (; it != b.objects.end(); ++it) {
    const std::string& key = it->first;
    if (key.compare(0, prefix.size(), prefix) != 0) break;
    if (key == request.start_after) continue;
    if (!skip_under.empty() && key.compare(0, skip_under.size(), skip_under) == 0) continue;
    std::string common;
    if (!delimiter.empty()) {
      auto pos = key.find(delimiter, prefix.size());
      if (pos != std::string::npos) common = key.substr(0, pos + delimiter.size());
    }
    if (!common.empty() && !out.common_prefixes.empty() && out.common_prefixes.back() == common)
      continue;
    if (returned == request.max_keys) {
      out.truncated = true;
      break;
    }
    if (!common.empty()) {
      out.common_prefixes.push_back(common);
      out.last_key = common;
      skip_under = common;
    } else {
      out.objects.push_back(it->second);
      out.last_key = key;
    }
    ++returned;
  }
  return out;
}

std::size_t ObjectStore::object_count(const std::string& bucket) const {
  return bucket_or_throw(bucket).objects.size();
}

std::string ObjectStore::create_upload(const std::string& bucket, const ObjectMeta& initial) {
  Bucket& b = bucket_or_throw(bucket);
  UploadInfo upload;
  upload.id = make_hex_id(48);
  upload.key = initial.key;
  upload.initial = initial;
  upload.created_ms = now_ms();
  auto dir = b.dir / "uploads" / upload.id;
  fs::create_directories(dir);
  write_file_atomically(dir / "upload.json",
                        nlohmann::json{{"key", initial.key},
                                       {"created_ms", upload.created_ms},
                                       {"content_type", initial.content_type},
                                       {"content_encoding", initial.content_encoding},
                                       {"content_disposition", initial.content_disposition},
                                       {"cache_control", initial.cache_control},
                                       {"metadata", initial.user_metadata}}
                            .dump());
  std::string id = upload.id;
  b.uploads[id] = std::move(upload);
  return id;
}

const UploadInfo& ObjectStore::find_upload(const std::string& bucket,
                                           const std::string& upload_id) const {
  Bucket& b = bucket_or_throw(bucket);
  auto it = b.uploads.find(upload_id);
  if (it == b.uploads.end() || b.completing.count(upload_id)) {
    throw ObjectStoreError(
        StoreFailure::NoSuchUpload,
        "The specified upload does not exist. The upload ID may be invalid, or the upload "
        "may have been aborted or completed.");
  }
  return it->second;
}

std::unique_ptr<TempFile> ObjectStore::create_part_temp(const std::string& bucket,
                                                        const std::string& upload_id) {
  find_upload(bucket, upload_id);
  Bucket& b = bucket_or_throw(bucket);
  auto path = b.dir / "uploads" / upload_id / (".tmp-" + make_hex_id(24));
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) throw_errno("create " + path.string());
  return std::make_unique<TempFile>(path, fd);
}

void ObjectStore::commit_part(const std::string& bucket, const std::string& upload_id,
                              int part_number, std::unique_ptr<TempFile> data, ObjectMeta part_meta,
                              CommitCallback done) {
  find_upload(bucket, upload_id);
  Bucket& b = bucket_or_throw(bucket);
  part_meta.last_modified_ms = now_ms();
  data->append(encode_object_trailer(part_meta));
  auto target = b.dir / "uploads" / upload_id / part_file_name(part_number);
  bool flush = options_.fsync;
  std::shared_ptr<TempFile> file(std::move(data));
  disk_.run(
      [file, target, flush] {
        publish_file(file->fd(), file->path(), target, flush);
        file->release();
      },
      [file, part_meta = std::move(part_meta), done = std::move(done)](std::exception_ptr error) {
        done(error, part_meta);
      });
}

std::vector<PartInfo> ObjectStore::list_parts(const std::string& bucket,
                                              const std::string& upload_id) const {
  find_upload(bucket, upload_id);
  Bucket& b = bucket_or_throw(bucket);
  std::vector<PartInfo> parts;
  for (const auto& f : fs::directory_iterator(b.dir / "uploads" / upload_id)) {
    std::string name = f.path().filename().string();
    if (name.rfind("part-", 0) != 0) continue;
    int fd = open_read(f.path());
    if (fd < 0) continue;
    auto meta = read_object_meta(fd);
    ::close(fd);
    if (!meta) continue;
    parts.push_back({std::atoi(name.c_str() + 5), meta->size, meta->etag, meta->last_modified_ms});
  }
  std::sort(parts.begin(), parts.end(),
            [](const PartInfo& a, const PartInfo& c) { return a.number < c.number; });
  return parts;
}

void ObjectStore::complete_upload(const std::string& bucket, const std::string& upload_id,
                                  std::vector<CompletedPart> parts, CommitCallback done) {
  const UploadInfo& upload = find_upload(bucket, upload_id);
  Bucket& b = bucket_or_throw(bucket);
  if (parts.empty()) {
    throw ObjectStoreError(StoreFailure::NoPartsListed, "You must specify at least one part");
  }
  auto stored = list_parts(bucket, upload_id);
  std::map<int, PartInfo> by_number;
  for (const auto& p : stored) by_number[p.number] = p;
  std::vector<PartInfo> chosen;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0 && parts[i].part_number <= parts[i - 1].part_number) {
      throw ObjectStoreError(
          StoreFailure::PartsOutOfOrder,
          "The list of parts was not in ascending order. The parts list must be specified in "
          "order by part number.");
    }
    auto it = by_number.find(parts[i].part_number);
    if (it == by_number.end() || unquote(parts[i].etag) != it->second.etag) {
      throw ObjectStoreError(
          StoreFailure::NoSuchPart,
          "One or more of the specified parts could not be found. The part may not have been "
          "uploaded, or the specified entity tag may not match the part's entity tag.");
    }
    chosen.push_back(it->second);
  }
  for (std::size_t i = 0; i + 1 < chosen.size(); ++i) {
    if (chosen[i].size < kMinPartBytes) {
      throw ObjectStoreError(StoreFailure::PartTooSmall,
                        "Your proposed upload is smaller than the minimum allowed size");
    }
  }
  ObjectMeta meta = upload.initial;
  meta.key = upload.key;
  meta.parts = static_cast<int>(chosen.size());
  auto temp = std::shared_ptr<TempFile>(create_temp(bucket));
  auto upload_dir = b.dir / "uploads" / upload_id;
  auto target = object_path(b, meta.key);
  bool flush = options_.fsync;
  b.completing[upload_id] = true;
  auto result = std::make_shared<ObjectMeta>(std::move(meta));
  disk_.run(
      [temp, upload_dir, target, flush, chosen, result] {
        ObjectMeta& meta = *result;
        Md5 md5_of_md5s;
        std::uint64_t total = 0;
        for (const auto& part : chosen) {
          int fd = open_read(upload_dir / part_file_name(part.number));
          if (fd < 0) throw_errno("open part");
          auto guard = share_fd(fd);
          auto part_meta = read_object_meta(fd);
          if (!part_meta)
            throw std::runtime_error("part " + std::to_string(part.number) + " is unreadable");
          copy_range(fd, temp->fd(), part_meta->size);
          // The multipart ETag is the MD5 of the parts' binary MD5s, then "-<count>".
          std::string raw;
          for (std::size_t i = 0; i + 1 < part_meta->etag.size(); i += 2) {
            raw += static_cast<char>(std::stoi(part_meta->etag.substr(i, 2), nullptr, 16));
          }
          md5_of_md5s.update(raw.data(), raw.size());
          total += part_meta->size;
        }
        meta.size = total;
        meta.etag = md5_of_md5s.hex() + "-" + std::to_string(chosen.size());
        meta.md5_hex.clear();
        meta.last_modified_ms = now_ms();
        temp->append(encode_object_trailer(meta));
        publish_file(temp->fd(), temp->path(), target, flush);
        temp->release();
        std::error_code ec;
        fs::remove_all(upload_dir, ec);
      },
      [this, temp, bucket, upload_id, result, done = std::move(done)](std::exception_ptr error) {
        auto it = buckets_.find(bucket);
        if (it != buckets_.end()) {
          it->second->completing.erase(upload_id);
          if (!error) {
            it->second->uploads.erase(upload_id);
            publish(bucket, result->key);
          }
        }
        done(error, *result);
      });
}

void ObjectStore::abort_upload(const std::string& bucket, const std::string& upload_id) {
  find_upload(bucket, upload_id);
  Bucket& b = bucket_or_throw(bucket);
  std::error_code ec;
  fs::remove_all(b.dir / "uploads" / upload_id, ec);
  b.uploads.erase(upload_id);
}

std::vector<UploadInfo> ObjectStore::list_uploads(const std::string& bucket) const {
  Bucket& b = bucket_or_throw(bucket);
  std::vector<UploadInfo> out;
  for (const auto& [id, u] : b.uploads) {
    if (!b.completing.count(id)) out.push_back(u);
  }
  return out;
}

}  // namespace stratus::emulator::s3
