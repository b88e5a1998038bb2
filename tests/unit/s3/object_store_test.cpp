// The object store's small-object paths on a real filesystem: the hand-written trailer against
// nlohmann's encoding, commits with fsync on and off, GETs answered from the index only while the
// file on disk is the one it describes, and the objects/<h2> directories made on first use.
#include "stratus/emulator/s3/object_store.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "stratus/common/sigv4.hpp"
#include "stratus/emulator/s3/s3_error.hpp"

namespace stratus::emulator::s3 {
namespace {

namespace fs = std::filesystem;

ObjectMeta sample_meta(std::string key) {
  ObjectMeta meta;
  meta.key = std::move(key);
  meta.size = 5;
  meta.etag = "5d41402abc4b2a76b9719d911017c592";
  meta.md5_hex = meta.etag;
  meta.content_type = "text/plain; charset=\"x\"";
  meta.content_disposition = "attachment; filename=\"a\\b.txt\"";
  meta.cache_control = "tab\there\nnewline\x01\x1f";
  meta.user_metadata = {{"alpha", "1"}, {"quote", "say \"hi\""}};
  meta.checksums = {{"CRC32", "NhCmhg=="}};
  meta.last_modified_ms = 1764547200123;
  meta.parts = 0;
  return meta;
}

// What the store wrote before the hand-written trailer: the independent reference.
std::string nlohmann_trailer(const ObjectMeta& meta) {
  return nlohmann::json{{"key", meta.key},
                        {"size", meta.size},
                        {"etag", meta.etag},
                        {"content_type", meta.content_type},
                        {"content_encoding", meta.content_encoding},
                        {"content_disposition", meta.content_disposition},
                        {"cache_control", meta.cache_control},
                        {"metadata", meta.user_metadata},
                        {"checksums", meta.checksums},
                        {"last_modified_ms", meta.last_modified_ms},
                        {"parts", meta.parts},
                        {"md5", meta.md5_hex}}
      .dump();
}

TEST(ObjectTrailer, HandWrittenJsonIsByteForByteNlohmanns) {
  ObjectMeta meta = sample_meta("dir/with \"quotes\" and \\backslash\\ and \x7f");
  EXPECT_EQ(encode_object_trailer_json(meta), nlohmann_trailer(meta));
  ObjectMeta empty;
  empty.key = "k";
  EXPECT_EQ(encode_object_trailer_json(empty), nlohmann_trailer(empty));
  // Beyond ASCII: nlohmann's encoding (and its UTF-8 check), unchanged.
  ObjectMeta utf8 = sample_meta("caf\xc3\xa9/\xe2\x82\xac");
  EXPECT_EQ(encode_object_trailer_json(utf8), nlohmann_trailer(utf8));
}

TEST(ObjectTrailer, RoundTripsThroughTheFileAndCarriesItsStamp) {
  auto path = fs::temp_directory_path() / ("stratus-trailer-" + std::to_string(::getpid()));
  ObjectMeta meta = sample_meta("round/trip");
  {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    std::string bytes = "hello" + encode_object_trailer(meta);
    ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    auto read = read_object_meta(fd);
    ASSERT_TRUE(read.has_value());
    EXPECT_EQ(read->key, meta.key);
    EXPECT_EQ(read->cache_control, meta.cache_control);
    EXPECT_EQ(read->user_metadata, meta.user_metadata);
    EXPECT_EQ(read->checksums, meta.checksums);
    EXPECT_EQ(read->last_modified_ms, meta.last_modified_ms);
    EXPECT_EQ(read->file, file_stamp(fd));
    EXPECT_EQ(read->file.bytes, bytes.size());
    ::close(fd);
  }
  fs::remove(path);
}

class ObjectStoreTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("stratus-store-test-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    StoreOptions options;
    options.fsync = GetParam();
    store_ = std::make_unique<ObjectStore>(io_, root_, options);
    store_->load();
    store_->create_bucket("b", "us-east-1");
  }
  void TearDown() override {
    store_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  // PUTs `body` as `key` and runs the io loop until the commit has been answered.
  ObjectMeta put(const std::string& key, const std::string& body, const std::string& etag) {
    auto temp = store_->create_temp("b");
    temp->append(body);
    ObjectMeta meta;
    meta.key = key;
    meta.size = body.size();
    meta.etag = etag;
    meta.md5_hex = etag;
    bool answered = false;
    std::exception_ptr failure;
    ObjectMeta result;
    store_->commit_object("b", std::move(temp), meta,
                          [&](std::exception_ptr error, const ObjectMeta& m) {
                            answered = true;
                            failure = error;
                            result = m;
                          });
    io_.restart();
    // The disk pool posts the answer later: keep the loop waiting for it.
    auto guard = boost::asio::make_work_guard(io_);
    while (!answered && io_.run_one() > 0) {
    }
    EXPECT_TRUE(answered);
    EXPECT_FALSE(failure);
    return result;
  }

  std::string read_body(const OpenObject& object) {
    std::string out(object.meta.size, '\0');
    EXPECT_EQ(::pread(*object.fd, out.data(), out.size(), 0), static_cast<ssize_t>(out.size()));
    return out;
  }

  fs::path object_file(const std::string& key) {
    std::string hash = aws::sha256_hex(key);
    return root_ / "b" / "objects" / hash.substr(0, 2) / hash;
  }

  boost::asio::io_context io_;
  fs::path root_;
  std::unique_ptr<ObjectStore> store_;
};

TEST_P(ObjectStoreTest, APutIsVisibleToGetAndListWithItsMetadata) {
  put("a/first", "hello", "etag-1");
  auto object = store_->open_object("b", "a/first");
  EXPECT_EQ(object.meta.etag, "etag-1");
  EXPECT_EQ(read_body(object), "hello");
  auto listed = store_->list("b", {});
  ASSERT_EQ(listed.objects.size(), 1u);
  EXPECT_EQ(listed.objects[0].etag, "etag-1");
  EXPECT_TRUE(fs::is_regular_file(object_file("a/first")));
}

TEST_P(ObjectStoreTest, AReplacedKeyServesTheNewVersion) {
  put("k", "one", "etag-1");
  put("k", "second", "etag-2");
  auto object = store_->open_object("b", "k");
  EXPECT_EQ(object.meta.etag, "etag-2");
  EXPECT_EQ(read_body(object), "second");
  EXPECT_EQ(store_->object_count("b"), 1u);
}

TEST_P(ObjectStoreTest, AGetReadsTheFileWhenItIsNoLongerTheOneTheIndexDescribes) {
  put("k", "indexed", "etag-index");
  // Another file put in place behind the index's back (as a concurrent commit's rename would).
  ObjectMeta other;
  other.key = "k";
  other.size = 5;
  other.etag = "etag-disk";
  std::string bytes = "newer" + encode_object_trailer(other);
  auto temp = root_ / "b" / "replacement";
  {
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    ::close(fd);
  }
  fs::rename(temp, object_file("k"));
  auto object = store_->open_object("b", "k");
  EXPECT_EQ(object.meta.etag, "etag-disk");
  EXPECT_EQ(read_body(object), "newer");
}

TEST_P(ObjectStoreTest, TheFanOutDirectoryIsMadeOnFirstUseAlsoAfterTheBucketIsRecreated) {
  fs::remove_all(root_ / "b" / "objects");
  put("x", "1", "e1");
  EXPECT_EQ(store_->open_object("b", "x").meta.etag, "e1");
  store_->delete_object("b", "x");
  store_->delete_bucket("b");
  store_->create_bucket("b", "us-east-1");
  put("x", "2", "e2");
  EXPECT_EQ(read_body(store_->open_object("b", "x")), "2");
}

TEST_P(ObjectStoreTest, ADeletedKeyIsGoneAndARestartReadsTheSameIndex) {
  put("keep", "k", "e-keep");
  put("gone", "g", "e-gone");
  store_->delete_object("b", "gone");
  try {
    store_->open_object("b", "gone");
    ADD_FAILURE() << "a deleted key still opens";
  } catch (const ObjectStoreError& e) {
    EXPECT_EQ(e.failure, StoreFailure::NoSuchKey);
  }
  store_.reset();
  store_ = std::make_unique<ObjectStore>(io_, root_, StoreOptions{GetParam()});
  store_->load();
  EXPECT_EQ(store_->object_count("b"), 1u);
  EXPECT_EQ(store_->open_object("b", "keep").meta.etag, "e-keep");
}

INSTANTIATE_TEST_SUITE_P(Fsync, ObjectStoreTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "fsync_on" : "fsync_off"; });

}  // namespace
}  // namespace stratus::emulator::s3
