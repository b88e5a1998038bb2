#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "stratus/trainer/dataset.hpp"

using namespace stratus::trainer;
namespace fs = std::filesystem;

namespace {
// Writes content to a file of this process only (another run of these tests, e.g. from a second
// clone on the machine, must not rewrite it while it is read), loads it, removes it.
Dataset load_temp_csv(const std::string& name, const std::string& content) {
  const auto path = fs::temp_directory_path() /
                    ("stratus-dataset-" + std::to_string(::getpid()) + "-" + name + ".csv");
  std::ofstream(path) << content;
  struct Remove {
    fs::path path;
    ~Remove() {
      std::error_code ignored;
      fs::remove(path, ignored);
    }
  } remove{path};
  return load_csv(path);
}
}  // namespace

TEST(SyntheticLinear, SameSeedSameData) {
  std::vector<double> w1, w2;
  auto a = make_synthetic_linear({100, 5, 0.1, 42}, &w1);
  auto b = make_synthetic_linear({100, 5, 0.1, 42}, &w2);
  auto c = make_synthetic_linear({100, 5, 0.1, 43});
  EXPECT_EQ(a.x, b.x);
  EXPECT_EQ(a.y, b.y);
  EXPECT_EQ(w1, w2);
  EXPECT_NE(a.x, c.x);
  ASSERT_EQ(a.x.size(), 500u);
  for (float v : a.x) {
    EXPECT_GE(v, -1.0f);
    EXPECT_LE(v, 1.0f);
  }
}

TEST(Csv, ReadsWithAndWithoutHeader) {
  auto with = load_temp_csv("with", "a,b,target\n1,2,3\n4,5,6\n\n");
  EXPECT_EQ(with.rows, 2u);
  EXPECT_EQ(with.features, 2u);
  EXPECT_EQ(with.x, (std::vector<float>{1, 2, 4, 5}));
  EXPECT_EQ(with.y, (std::vector<float>{3, 6}));
  auto without = load_temp_csv("without", "1.5, -2e-1 ,3\r\n");
  EXPECT_EQ(without.rows, 1u);
  EXPECT_FLOAT_EQ(without.x[1], -0.2f);
}

TEST(Csv, ErrorsNameFileLineAndColumn) {
  auto expect_error = [](const std::string& name, const std::string& content, const std::string& fragment) {
    try {
      load_temp_csv(name, content);
      FAIL() << "no error for " << name;
    } catch (const DatasetError& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  expect_error("bad-cell", "1,2,3\n4,x,6\n", ":2: column 2");
  expect_error("ragged", "1,2,3\n4,5\n", ":2: has 2 columns, expected 3");
  expect_error("empty", "a,b\n", "no data rows");
  expect_error("nan", "1,2,3\n1,nan,3\n", ":2: column 2");
  EXPECT_THROW(load_csv("/nonexistent/stratus.csv"), DatasetError);
}
