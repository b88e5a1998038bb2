// The deployment zip as Lambda reads it: one entry `bootstrap` at the root, a unix regular file
// with mode 0755, the fixed timestamp, and exactly the bytes of the product bootstrap.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <zip.h>

#include <ctime>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

namespace {

std::string read_file(const char* path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

struct ZipCloser {
  void operator()(zip_t* archive) const { zip_discard(archive); }
};

}  // namespace

TEST(FunctionsZip, HoldsTheExecutableBootstrapAtTheRoot) {
  int error = 0;
  std::unique_ptr<zip_t, ZipCloser> archive(zip_open(STRATUS_FUNCTIONS_ZIP, ZIP_RDONLY, &error));
  ASSERT_TRUE(archive) << "cannot open " << STRATUS_FUNCTIONS_ZIP << " (libzip error " << error
                       << "): build target functions-zip";
  ASSERT_EQ(zip_get_num_entries(archive.get(), 0), 1);
  EXPECT_STREQ(zip_get_name(archive.get(), 0, 0), "bootstrap");

  zip_uint8_t opsys = 0;
  zip_uint32_t attributes = 0;
  ASSERT_EQ(zip_file_get_external_attributes(archive.get(), 0, 0, &opsys, &attributes), 0);
  EXPECT_EQ(opsys, ZIP_OPSYS_UNIX);
  EXPECT_EQ(attributes >> 16, static_cast<zip_uint32_t>(S_IFREG | 0755));

  zip_stat_t stat;
  zip_stat_init(&stat);
  ASSERT_EQ(zip_stat_index(archive.get(), 0, 0, &stat), 0);
  EXPECT_EQ(stat.comp_method, ZIP_CM_DEFLATE);
  // libzip turns the DOS timestamp into local time; converting back gives its fields.
  std::tm when{};
  localtime_r(&stat.mtime, &when);
  EXPECT_EQ(when.tm_year + 1900, 2024);
  EXPECT_EQ(when.tm_mon, 0);
  EXPECT_EQ(when.tm_mday, 1);
  EXPECT_EQ(when.tm_hour, 0);
  EXPECT_EQ(when.tm_min, 0);

  const std::string expected = read_file(STRATUS_PRODUCT_BOOTSTRAP);
  ASSERT_FALSE(expected.empty());
  ASSERT_EQ(stat.size, expected.size());
  std::string contents(stat.size, '\0');
  zip_file_t* file = zip_fopen_index(archive.get(), 0, 0);
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(zip_fread(file, contents.data(), contents.size()),
            static_cast<zip_int64_t>(contents.size()));
  zip_fclose(file);
  EXPECT_TRUE(contents == expected)
      << "the zipped bootstrap differs from " STRATUS_PRODUCT_BOOTSTRAP;
}
