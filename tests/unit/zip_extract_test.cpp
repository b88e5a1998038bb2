#include <gtest/gtest.h>
#include <sys/stat.h>
#include <zip.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "stratus/emulator/lambda/zip_extract.hpp"

using namespace stratus::emulator;
namespace fs = std::filesystem;

namespace {

struct Entry {
  std::string name;
  std::string content;
  mode_t mode;  // full st_mode (S_IFREG / S_IFLNK / S_IFDIR | permissions); 0 = no unix attributes
};

// Builds a zip in memory with libzip, as a real zip tool would write it.
std::string make_zip(const std::vector<Entry>& entries) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* out = zip_source_buffer_create(nullptr, 0, 0, &error);
  zip_source_keep(out);
  zip_t* archive = zip_open_from_source(out, ZIP_TRUNCATE, &error);
  EXPECT_NE(archive, nullptr);
  for (const auto& e : entries) {
    zip_int64_t index;
    if (S_ISDIR(e.mode)) {
      index = zip_dir_add(archive, e.name.c_str(), ZIP_FL_ENC_UTF_8);
    } else {
      zip_source_t* src = zip_source_buffer(archive, e.content.data(), e.content.size(), 0);
      index = zip_file_add(archive, e.name.c_str(), src, ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE);
    }
    EXPECT_GE(index, 0) << e.name;
    if (e.mode) {
      zip_file_set_external_attributes(archive, static_cast<zip_uint64_t>(index), 0, ZIP_OPSYS_UNIX,
                                        static_cast<zip_uint32_t>(e.mode) << 16);
    }
  }
  EXPECT_EQ(zip_close(archive), 0);
  zip_source_open(out);
  zip_source_seek(out, 0, SEEK_END);
  auto size = zip_source_tell(out);
  zip_source_seek(out, 0, SEEK_SET);
  std::string bytes(static_cast<std::size_t>(size), '\0');
  zip_source_read(out, bytes.data(), bytes.size());
  zip_source_close(out);
  zip_source_free(out);
  return bytes;
}

class ZipExtractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("stratus-zip-test-" + std::to_string(std::random_device{}()));
    fs::create_directories(root_);
    target_ = root_ / "code";
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
  fs::path target_;
};

}  // namespace

TEST_F(ZipExtractTest, KeepsModeBitsAndTree) {
  auto zip = make_zip({{"bootstrap", "#!/bin/sh\necho hi\n", S_IFREG | 0755},
                       {"lib/", "", S_IFDIR | 0755},
                       {"lib/data.txt", "data", S_IFREG | 0644},
                       {"setuid", "x", S_IFREG | 04755}});
  auto result = extract_zip(zip, target_);
  EXPECT_EQ(result.files, 3u);
  EXPECT_EQ(result.unzipped_bytes, 18u + 4u + 1u);
  struct stat st;
  ASSERT_EQ(::stat((target_ / "bootstrap").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
  ASSERT_EQ(::stat((target_ / "lib/data.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  ASSERT_EQ(::stat((target_ / "setuid").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07000, 0u) << "setuid must be dropped";
  std::ifstream in(target_ / "lib/data.txt");
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "data");
}

TEST_F(ZipExtractTest, WithoutUnixAttributesFilesAreNotExecutable) {
  auto zip = make_zip({{"bootstrap", "x", 0}});
  extract_zip(zip, target_);
  struct stat st;
  ASSERT_EQ(::stat((target_ / "bootstrap").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0111, 0u);
}

TEST_F(ZipExtractTest, RejectsEntriesThatEscape) {
  for (const char* name : {"../evil", "a/../../evil", "/etc/evil", "a\\..\\evil"}) {
    auto zip = make_zip({{"ok", "x", S_IFREG | 0644}, {name, "x", S_IFREG | 0644}});
    EXPECT_THROW(extract_zip(zip, target_), ZipError) << name;
    EXPECT_FALSE(fs::exists(target_)) << "partial extraction must be removed: " << name;
    EXPECT_FALSE(fs::exists(root_ / "evil"));
  }
}

TEST_F(ZipExtractTest, SymlinksMustStayInside) {
  auto inside = make_zip({{"real", "x", S_IFREG | 0644}, {"link", "real", S_IFLNK | 0777}});
  extract_zip(inside, target_);
  EXPECT_TRUE(fs::is_symlink(target_ / "link"));
  fs::remove_all(target_);
  for (const char* where : {"/etc/passwd", "../outside", "a/../../outside"}) {
    auto outside = make_zip({{"link", where, S_IFLNK | 0777}});
    EXPECT_THROW(extract_zip(outside, target_), ZipError) << where;
    EXPECT_FALSE(fs::exists(target_));
  }
}

// Found by fuzz_zip: a NUL in the target would be cut off by symlink(2), turning "..\0x" into "..".
TEST_F(ZipExtractTest, SymlinkTargetWithNulIsRefused) {
  auto zip = make_zip({{"link", std::string("..\0x", 4), S_IFLNK | 0777}});
  EXPECT_THROW(extract_zip(zip, target_), ZipError);
  EXPECT_FALSE(fs::exists(target_));
}

// Each link alone stays inside, but e leads through d: d -> ".", e -> "d/.." is the parent.
TEST_F(ZipExtractTest, SymlinkChainsCannotClimbOut) {
  auto zip = make_zip({{"d", ".", S_IFLNK | 0777}, {"e", "d/..", S_IFLNK | 0777}});
  EXPECT_THROW(extract_zip(zip, target_), ZipError);
  EXPECT_FALSE(fs::exists(target_));
  auto deeper = make_zip({{"a/", "", S_IFDIR | 0755}, {"a/d", "..", S_IFLNK | 0777}, {"e", "a/d/..", S_IFLNK | 0777}});
  EXPECT_THROW(extract_zip(deeper, target_), ZipError);
  auto fine = make_zip({{"a/", "", S_IFDIR | 0755}, {"a/real", "x", S_IFREG | 0644},
                        {"b", "a", S_IFLNK | 0777}, {"c", "b/real", S_IFLNK | 0777}});
  extract_zip(fine, target_);
  EXPECT_TRUE(fs::is_symlink(target_ / "c"));
}

TEST_F(ZipExtractTest, NoWritingThroughASymlinkEntry) {
  // A link first, then a file "through" it: files are written before links exist, so the second
  // entry lands in a real directory or fails; nothing reaches outside.
  auto zip = make_zip({{"dir", ".", S_IFLNK | 0777}, {"dir/file", "x", S_IFREG | 0644}});
  try {
    extract_zip(zip, target_);
  } catch (const ZipError&) {
  }
  EXPECT_FALSE(fs::exists(root_ / "file"));
}

TEST_F(ZipExtractTest, EnforcesUnzippedSizeLimit) {
  auto zip = make_zip({{"big", std::string(100000, 'a'), S_IFREG | 0644}});
  EXPECT_LT(zip.size(), 10000u) << "compressible content keeps the archive small";
  EXPECT_THROW(extract_zip(zip, target_, 50000), ZipError);
  EXPECT_FALSE(fs::exists(target_));
}

TEST_F(ZipExtractTest, RejectsGarbageAndTruncation) {
  EXPECT_THROW(extract_zip("not a zip at all", target_), ZipError);
  auto zip = make_zip({{"bootstrap", std::string(5000, 'b'), S_IFREG | 0755}});
  EXPECT_THROW(extract_zip(zip.substr(0, zip.size() / 2), target_), ZipError);
  EXPECT_FALSE(fs::exists(target_));
}

TEST(ZipEntryName, Safety) {
  EXPECT_TRUE(is_safe_entry_name("a/b/c"));
  EXPECT_TRUE(is_safe_entry_name("a..b"));
  EXPECT_FALSE(is_safe_entry_name(""));
  EXPECT_FALSE(is_safe_entry_name(".."));
  EXPECT_FALSE(is_safe_entry_name("/abs"));
  EXPECT_FALSE(is_safe_entry_name(std::string("a\0b", 3)));
}
