// encode/decode_model, model_sha256, accumulate/divide and hostile model bytes.

#include "stratus/ml/model_state.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "stratus/common/tensor_codec.hpp"
#include "stratus/ml/architectures.hpp"

namespace stratus::ml {
namespace {

constexpr std::uint64_t kLimit = 64ull << 20;

TEST(ModelState, EncodeDecodeRoundTripsBitExactly) {
  for (std::string_view arch : {kCaseA, kCaseB}) {
    const ModelState m = initial_model(arch, 7);
    const std::string bytes = encode_model(m);
    const ModelState back = decode_model(bytes, kLimit);
    EXPECT_EQ(back.architecture, m.architecture);
    ASSERT_EQ(back.tensors.size(), m.tensors.size());
    for (std::size_t i = 0; i < m.tensors.size(); ++i) {
      EXPECT_EQ(back.tensors[i].name, m.tensors[i].name);
      EXPECT_EQ(back.tensors[i].shape, m.tensors[i].shape);
      ASSERT_EQ(back.tensors[i].values.size(), m.tensors[i].values.size());
      EXPECT_EQ(std::memcmp(back.tensors[i].values.data(), m.tensors[i].values.data(),
                            m.tensors[i].values.size() * 4),
                0);
    }
    EXPECT_EQ(encode_model(back), bytes);
    EXPECT_EQ(model_sha256(back), model_sha256(m));
  }
}

TEST(ModelState, LayoutsUseDesignNames) {
  const ModelState a = initial_model(kCaseA, 1);
  ASSERT_EQ(a.tensors.size(), 12u);
  EXPECT_EQ(a.tensors[0].name, "l1.weight");
  EXPECT_EQ(a.tensors[0].shape, (std::vector<std::uint64_t>{20, 100}));
  EXPECT_EQ(a.tensors[11].name, "l6.bias");
  EXPECT_EQ(a.tensors[11].shape, (std::vector<std::uint64_t>{1}));
  const ModelState b = initial_model(kCaseB, 1);
  ASSERT_EQ(b.tensors.size(), 10u);
  EXPECT_EQ(b.tensors[2].name, "conv2.weight");
  EXPECT_EQ(b.tensors[2].shape, (std::vector<std::uint64_t>{5, 5, 64, 64}));
  EXPECT_EQ(b.tensors[4].name, "fc1.weight");
  EXPECT_EQ(b.tensors[4].shape, (std::vector<std::uint64_t>{4096, 384}));
  EXPECT_EQ(b.tensors[9].name, "fc3.bias");
}

TEST(ModelState, Sha256IsHexOfEncodedBytesAndChangesWithOneBit) {
  ModelState m = initial_model(kCaseA, 3);
  const std::string h = model_sha256(m);
  EXPECT_EQ(h.size(), 64u);
  EXPECT_EQ(h.find_first_not_of("0123456789abcdef"), std::string::npos);
  std::uint32_t bits;
  std::memcpy(&bits, &m.tensors[5].values[3], 4);
  bits ^= 1;
  std::memcpy(&m.tensors[5].values[3], &bits, 4);
  EXPECT_NE(model_sha256(m), h);
}

TEST(ModelState, AccumulateThenDivideAverages) {
  ModelState sum = initial_model(kCaseA, 1);
  const ModelState a = sum;
  const ModelState b = initial_model(kCaseA, 2);
  accumulate(sum, b);
  divide(sum, 2);
  for (std::size_t t = 0; t < sum.tensors.size(); ++t) {
    for (std::size_t i = 0; i < sum.tensors[t].values.size(); ++i) {
      EXPECT_EQ(sum.tensors[t].values[i], (a.tensors[t].values[i] + b.tensors[t].values[i]) / 2.0f);
    }
  }
  EXPECT_THROW(divide(sum, 0), ModelFormatError);
  ModelState other = initial_model(kCaseB, 1);
  EXPECT_THROW(accumulate(sum, other), ModelFormatError);
  ModelState reshaped = a;
  reshaped.tensors[0].shape = {100, 20};
  EXPECT_THROW(accumulate(sum, reshaped), ModelFormatError);
}

// --- hostile bytes

std::string valid_bytes() {
  return encode_model(initial_model(kCaseA, 11));
}

void expect_refused(const std::string& bytes, std::uint64_t limit = kLimit) {
  EXPECT_THROW(decode_model(bytes, limit), ModelFormatError);
}

TEST(ModelStateHostile, EveryTruncationIsRefused) {
  const std::string bytes = valid_bytes();
  // Every prefix up to the first frames, then a stride over the rest (all prefixes of 200 KB take
  // too long to inflate one by one).
  for (std::size_t n = 0; n < bytes.size(); n += (n < 4096 ? 1 : 997)) {
    expect_refused(bytes.substr(0, n));
  }
  expect_refused(bytes + "x");
}

TEST(ModelStateHostile, WrongMagicVersionArchitectureRefused) {
  std::string b = valid_bytes();
  b[0] = 'X';
  expect_refused(b);
  b = valid_bytes();
  b[4] = 2;
  expect_refused(b);
  b = valid_bytes();
  b[12] = 'X';  // architecture text
  expect_refused(b);
  expect_refused("");
}

TEST(ModelStateHostile, LimitIsEnforced) {
  const std::string b = valid_bytes();
  EXPECT_NO_THROW(decode_model(b, kLimit));
  expect_refused(b, 1000);
}

ModelState replace_tensor(ModelState m, std::size_t index, Tensor t) {
  m.tensors[index].shape = t.shape;
  m.tensors[index].values = t.f32;
  return m;
}

// Builds the stratus-model/1 bytes by hand so shapes can be wrong (encode_model refuses them).
std::string raw_model(const ModelState& m, std::size_t bad_index, const std::string& bad_frame) {
  std::string out = "STMD";
  out.push_back(1);
  out.append(3, '\0');
  auto u32 = [&](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  auto u64 = [&](std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  u32(static_cast<std::uint32_t>(m.architecture.size()));
  out += m.architecture;
  u32(static_cast<std::uint32_t>(m.tensors.size()));
  for (std::size_t i = 0; i < m.tensors.size(); ++i) {
    const NamedTensor& t = m.tensors[i];
    u32(static_cast<std::uint32_t>(t.name.size()));
    out += t.name;
    const std::string frame =
        i == bad_index ? bad_frame : encode_tensor_binary(Tensor::of_f32(t.shape, t.values), 0);
    u64(frame.size());
    out += frame;
  }
  return out;
}

TEST(ModelStateHostile, WrongShapesDtypesNaNAndHugeDimsRefused) {
  const ModelState m = initial_model(kCaseA, 5);
  // The same bytes as encode_model when nothing is bad.
  EXPECT_EQ(raw_model(m, 99, ""), encode_model(m));
  // Transposed weight: same count, wrong shape.
  expect_refused(
      raw_model(m, 0, encode_tensor_binary(Tensor::of_f32({100, 20}, m.tensors[0].values), 0)));
  // Fewer values.
  expect_refused(
      raw_model(m, 1, encode_tensor_binary(Tensor::of_f32({99}, std::vector<float>(99)), 0)));
  // float64 instead of float32.
  expect_refused(
      raw_model(m, 1, encode_tensor_binary(Tensor::of_f64({100}, std::vector<double>(100)), 0)));
  // NaN and Inf.
  for (float bad :
       {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    std::vector<float> v = m.tensors[1].values;
    v[42] = bad;
    expect_refused(raw_model(m, 1, encode_tensor_binary(Tensor::of_f32({100}, v), 0)));
    ModelState n = m;
    n.tensors[1].values[42] = bad;
    EXPECT_THROW(encode_model(n), ModelFormatError);
  }
  // A well-formed zlib frame announcing a 2^40 x 2^20 tensor (and holding no data): refused by its
  // header, before anything is allocated.
  std::string header = "STRT";
  header.push_back(1);
  header.push_back(1);
  header.push_back(2);
  header.push_back(0);
  for (std::uint64_t d : {1ull << 40, 1ull << 20}) {
    for (int i = 0; i < 8; ++i) header.push_back(static_cast<char>((d >> (8 * i)) & 0xff));
  }
  std::string huge(compressBound(header.size()), '\0');
  uLongf huge_len = huge.size();
  ASSERT_EQ(compress(reinterpret_cast<Bytef*>(huge.data()), &huge_len,
                     reinterpret_cast<const Bytef*>(header.data()), header.size()),
            Z_OK);
  huge.resize(huge_len);
  expect_refused(raw_model(m, 0, huge));
  // A valid frame of the right count but another rank.
  expect_refused(
      raw_model(replace_tensor(m, 0, Tensor::of_f32({1, 20 * 100}, m.tensors[0].values)), 99, ""));
  // Garbage frame.
  expect_refused(raw_model(m, 3, std::string(64, '\x5a')));
}

TEST(ModelStateHostile, ValidateRejectsMismatchedStates) {
  ModelState m = initial_model(kCaseA, 5);
  m.tensors.pop_back();
  EXPECT_THROW(encode_model(m), ModelFormatError);
  ModelState n = initial_model(kCaseA, 5);
  n.tensors[3].name = "l2.bias_";
  EXPECT_THROW(validate_model(n), ModelFormatError);
  ModelState u = initial_model(kCaseA, 5);
  u.architecture = "nope/1";
  EXPECT_THROW(encode_model(u), ModelFormatError);
  ModelState v = initial_model(kCaseA, 5);
  v.tensors[0].values.pop_back();
  EXPECT_THROW(encode_model(v), ModelFormatError);
}

}  // namespace
}  // namespace stratus::ml
