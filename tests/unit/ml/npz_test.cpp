// save_npz / load_npz: round trips, determinism, atomicity, hostile files, and numpy itself
// reading our files and writing files we read (tests/ml_reference/check_npz.py).

#include <gtest/gtest.h>
#include <zip.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "stratus/ml/architectures.hpp"
#include "stratus/ml/model_state.hpp"

namespace stratus::ml {
namespace {

namespace fs = std::filesystem;

class Npz : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("stratus-npz-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void expect_same(const ModelState& a, const ModelState& b) {
  ASSERT_EQ(a.architecture, b.architecture);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (std::size_t i = 0; i < a.tensors.size(); ++i) {
    EXPECT_EQ(a.tensors[i].name, b.tensors[i].name);
    EXPECT_EQ(a.tensors[i].shape, b.tensors[i].shape);
    ASSERT_EQ(a.tensors[i].values.size(), b.tensors[i].values.size());
    EXPECT_EQ(std::memcmp(a.tensors[i].values.data(), b.tensors[i].values.data(),
                          a.tensors[i].values.size() * 4),
              0)
        << a.tensors[i].name;
  }
}

TEST_F(Npz, RoundTripIsExactDeterministicAndLeavesNoTemporaryFile) {
  for (std::string_view arch : {kCaseA, kCaseB}) {
    const ModelState m = initial_model(arch, 5);
    const fs::path a = dir_ / "a.npz", b = dir_ / "b.npz";
    save_npz(m, a);
    save_npz(m, b);
    expect_same(load_npz(a, arch), m);
    EXPECT_EQ(read_file(a), read_file(b));  // same model, same bytes
    save_npz(initial_model(arch, 6), a);    // replaces atomically
    expect_same(load_npz(a, arch), initial_model(arch, 6));
    std::size_t files = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_)) ++files;
    EXPECT_EQ(files, 2u);
  }
}

TEST_F(Npz, WrongArchitectureOrUnwritableTargetRefused) {
  save_npz(initial_model(kCaseA, 1), dir_ / "a.npz");
  EXPECT_THROW(load_npz(dir_ / "a.npz", kCaseB), ModelFormatError);
  EXPECT_THROW(load_npz(dir_ / "a.npz", "nope/1"), ModelFormatError);
  EXPECT_THROW(load_npz(dir_ / "missing.npz", kCaseA), ModelFormatError);
  EXPECT_THROW(save_npz(initial_model(kCaseA, 1), dir_ / "no-such-dir" / "a.npz"),
               ModelFormatError);
  ModelState bad = initial_model(kCaseA, 1);
  bad.tensors[0].values[0] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(save_npz(bad, dir_ / "bad.npz"), ModelFormatError);
  EXPECT_FALSE(fs::exists(dir_ / "bad.npz"));
}

// Writes a zip with the given entries (name -> bytes).
void write_zip(const fs::path& p, const std::vector<std::pair<std::string, std::string>>& entries) {
  int err = 0;
  zip_t* z = zip_open(p.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  ASSERT_NE(z, nullptr);
  for (const auto& [name, bytes] : entries) {
    zip_source_t* s = zip_source_buffer(z, bytes.data(), bytes.size(), 0);
    ASSERT_GE(zip_file_add(z, name.c_str(), s, 0), 0);
  }
  ASSERT_EQ(zip_close(z), 0);
}

std::string npy(const std::string& header_dict, const std::string& data) {
  std::string h = header_dict;
  while ((10 + h.size() + 1) % 64 != 0) h.push_back(' ');
  h.push_back('\n');
  std::string out = "\x93NUMPY";
  out.push_back(1);
  out.push_back(0);
  out.push_back(static_cast<char>(h.size() & 0xff));
  out.push_back(static_cast<char>(h.size() >> 8));
  return out + h + data;
}

std::string floats(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

// The Case A entries, with entry `index` replaced by `replacement` (or dropped when empty).
std::vector<std::pair<std::string, std::string>> case_a_entries(std::size_t index,
                                                                const std::string& replacement) {
  const ModelState m = initial_model(kCaseA, 3);
  std::vector<std::pair<std::string, std::string>> out;
  for (std::size_t i = 0; i < m.tensors.size(); ++i) {
    const NamedTensor& t = m.tensors[i];
    std::string shape = "(";
    for (std::size_t d = 0; d < t.shape.size(); ++d) shape += std::to_string(t.shape[d]) + ", ";
    shape += ")";
    std::string bytes =
        npy("{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }", floats(t.values));
    if (i == index) {
      if (replacement.empty()) continue;
      bytes = replacement;
    }
    out.emplace_back(t.name + ".npy", bytes);
  }
  return out;
}

TEST_F(Npz, HostileFilesRefused) {
  const fs::path p = dir_ / "h.npz";
  // Our own writer's layout, built by hand, loads (the harness is right).
  write_zip(p, case_a_entries(99, ""));
  EXPECT_NO_THROW(load_npz(p, kCaseA));
  const std::string bias100 = floats(std::vector<float>(100, 0.5f));
  const std::vector<std::string> bad_l1_bias = {
      npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99,), }", bias100.substr(0, 396)),
      npy("{'descr': '<f4', 'fortran_order': False, 'shape': (100,), }", bias100.substr(0, 200)),
      npy("{'descr': '>f4', 'fortran_order': False, 'shape': (100,), }", bias100),
      npy("{'descr': '<i4', 'fortran_order': False, 'shape': (100,), }", bias100),
      npy("{'descr': '<f4', 'fortran_order': True, 'shape': (100,), }", bias100),
      npy("{'descr': '<f4', 'fortran_order': False, 'shape': (999999999999999999,), }", bias100),
      npy("{'descr': '<f4', 'fortran_order': False, 'shape': (10, 10), }", bias100),
      npy("{'descr': '<f4', 'fortran_order': False, 'shape': (100,), }",
          floats(std::vector<float>(100, std::numeric_limits<float>::infinity()))),
      "\x93NUMPY\x01\x00\xff\xff{",
      "not an npy at all",
      "",
  };
  for (const std::string& bad : bad_l1_bias) {
    write_zip(p, case_a_entries(1, bad));
    EXPECT_THROW(load_npz(p, kCaseA), ModelFormatError) << bad.substr(0, 80);
  }
  write_zip(p, case_a_entries(1, ""));  // missing array
  EXPECT_THROW(load_npz(p, kCaseA), ModelFormatError);
  auto extra = case_a_entries(99, "");
  extra.emplace_back(
      "surprise.npy",
      npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", floats({1.0f})));
  write_zip(p, extra);
  EXPECT_THROW(load_npz(p, kCaseA), ModelFormatError);
  std::ofstream(p, std::ios::binary | std::ios::trunc) << "PK\x03\x04 truncated zip";
  EXPECT_THROW(load_npz(p, kCaseA), ModelFormatError);
}

int run(const std::string& command) {
  return std::system(command.c_str());
}

TEST_F(Npz, NumpyReadsOurFilesAndWeReadNumpys) {
  const ModelState m = initial_model(kCaseB, 9, Initialisation::Tutorial);
  save_npz(m, dir_ / "model.npz");
  std::ofstream manifest(dir_ / "manifest.txt");
  for (const NamedTensor& t : m.tensors) {
    manifest << t.name;
    for (auto d : t.shape) manifest << ' ' << d;
    manifest << '\n';
    std::ofstream(dir_ / (t.name + ".raw"), std::ios::binary) << floats(t.values);
  }
  manifest.close();
  const std::string script = std::string("/usr/bin/python3 ") + STRATUS_CHECK_NPZ_SCRIPT;
  ASSERT_EQ(run(script + " check " + dir_.string()), 0);
  ASSERT_EQ(run(script + " write " + dir_.string()), 0);
  // np.savez (with the first array as float64, converted on load) and np.savez_compressed.
  expect_same(load_npz(dir_ / "from_numpy.npz", kCaseB), m);
  expect_same(load_npz(dir_ / "compressed.npz", kCaseB), m);
}

}  // namespace
}  // namespace stratus::ml
