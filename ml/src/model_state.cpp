// stratus-model/1 encoding (see model_state.hpp), validation against the architecture, the
// model hash, and the merge tree's sum and division.

#include "stratus/ml/model_state.hpp"

#include <cmath>
#include <cstring>
#include <span>

#include "stratus/common/checksum.hpp"
#include "stratus/common/tensor_codec.hpp"
#include "stratus/ml/architectures.hpp"

namespace stratus::ml {
namespace {

constexpr char kMagic[4] = {'S', 'T', 'M', 'D'};
constexpr std::uint8_t kVersion = 1;
constexpr std::size_t kMaxNameBytes = 256;

[[noreturn]] void fail(const std::string& what) {
  throw ModelFormatError("model: " + what);
}

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xffu));
}
void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xffu));
}

class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  std::string_view take(std::uint64_t n, const char* what) {
    if (n > bytes_.size() - pos_) fail(std::string("truncated (") + what + ")");
    const std::string_view out = bytes_.substr(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return out;
  }
  std::uint64_t uint(int width, const char* what) {
    const std::string_view b = take(static_cast<std::uint64_t>(width), what);
    std::uint64_t v = 0;
    for (int i = width - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[i]);
    return v;
  }
  bool done() const { return pos_ == bytes_.size(); }

 private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
};

std::string shape_text(std::span<const std::uint64_t> shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s.push_back(',');
    s.append(std::to_string(shape[i]));
  }
  s.push_back(']');
  return s;
}

std::uint64_t element_count(std::span<const std::uint64_t> shape) {
  std::uint64_t n = 1;
  for (std::uint64_t d : shape) n *= d;  // layouts are small; callers bound hostile shapes first
  return n;
}

void check_finite(const NamedTensor& t) {
  for (std::size_t i = 0; i < t.values.size(); ++i) {
    if (!std::isfinite(t.values[i])) {
      fail("tensor '" + t.name + "' holds a non-finite value at index " + std::to_string(i));
    }
  }
}

void check_same_layout(const ModelState& a, const ModelState& b, const char* what) {
  if (a.architecture != b.architecture) {
    fail(std::string(what) + ": architectures differ ('" + a.architecture + "' vs '" +
         b.architecture + "')");
  }
  if (a.tensors.size() != b.tensors.size()) fail(std::string(what) + ": tensor counts differ");
  for (std::size_t i = 0; i < a.tensors.size(); ++i) {
    const NamedTensor& x = a.tensors[i];
    const NamedTensor& y = b.tensors[i];
    if (x.name != y.name || x.shape != y.shape || x.values.size() != y.values.size()) {
      fail(std::string(what) + ": tensor " + std::to_string(i) + " differs ('" + x.name + "' " +
           shape_text(x.shape) + " vs '" + y.name + "' " + shape_text(y.shape) + ")");
    }
  }
}

}  // namespace

void validate_model(const ModelState& model) {
  const std::vector<TensorLayout> layout = architecture_layout(model.architecture);
  if (layout.empty()) fail("unknown architecture '" + model.architecture + "'");
  if (model.tensors.size() != layout.size()) {
    fail("architecture '" + model.architecture + "' has " + std::to_string(layout.size()) +
         " tensors, the model " + std::to_string(model.tensors.size()));
  }
  for (std::size_t i = 0; i < layout.size(); ++i) {
    const NamedTensor& t = model.tensors[i];
    if (t.name != layout[i].name || t.shape != layout[i].shape) {
      fail("tensor " + std::to_string(i) + " is '" + t.name + "' " + shape_text(t.shape) + ", '" +
           model.architecture + "' wants '" + std::string(layout[i].name) + "' " +
           shape_text(layout[i].shape));
    }
    if (t.values.size() != element_count(t.shape)) {
      fail("tensor '" + t.name + "' has " + std::to_string(t.values.size()) + " values for shape " +
           shape_text(t.shape));
    }
    check_finite(t);
  }
}

std::string encode_model(const ModelState& model) {
  validate_model(model);
  std::string out(kMagic, sizeof kMagic);
  out.push_back(static_cast<char>(kVersion));
  out.append(3, '\0');
  put_u32(out, static_cast<std::uint32_t>(model.architecture.size()));
  out += model.architecture;
  put_u32(out, static_cast<std::uint32_t>(model.tensors.size()));
  for (const NamedTensor& t : model.tensors) {
    put_u32(out, static_cast<std::uint32_t>(t.name.size()));
    out += t.name;
    const std::string frame = encode_tensor_binary(
        TensorView::of(std::span<const std::uint64_t>(t.shape), std::span<const float>(t.values)),
        0);
    put_u64(out, frame.size());
    out += frame;
  }
  return out;
}

ModelState decode_model(std::string_view bytes, std::uint64_t max_decoded_bytes) {
  Reader in(bytes);
  if (in.take(4, "magic") != std::string_view(kMagic, 4)) fail("not a stratus-model/1 object");
  if (in.uint(1, "version") != kVersion) fail("unsupported version");
  if (in.take(3, "reserved") != std::string_view("\0\0\0", 3)) fail("reserved bytes are not 0");
  const std::uint64_t arch_len = in.uint(4, "architecture length");
  if (arch_len > kMaxNameBytes) fail("architecture name too long");
  ModelState model;
  model.architecture = std::string(in.take(arch_len, "architecture"));
  const std::vector<TensorLayout> layout = architecture_layout(model.architecture);
  if (layout.empty()) fail("unknown architecture '" + model.architecture + "'");
  const std::uint64_t count = in.uint(4, "tensor count");
  if (count != layout.size()) {
    fail("'" + model.architecture + "' has " + std::to_string(layout.size()) + " tensors, got " +
         std::to_string(count));
  }
  std::uint64_t budget = max_decoded_bytes;
  model.tensors.reserve(layout.size());
  for (const TensorLayout& expected : layout) {
    const std::uint64_t name_len = in.uint(4, "name length");
    if (name_len > kMaxNameBytes) fail("tensor name too long");
    std::string name(in.take(name_len, "name"));
    if (name != expected.name) {
      fail("tensor '" + name + "' where '" + model.architecture + "' has '" +
           std::string(expected.name) + "'");
    }
    const std::uint64_t frame_len = in.uint(8, "frame length");
    const std::string_view frame = in.take(frame_len, "tensor frame");
    // The exact raw size this tensor must have: anything announcing more is refused by the codec
    // before it allocates.
    const std::uint64_t raw = 8 + 8 * expected.shape.size() + 4 * element_count(expected.shape);
    if (raw > budget) {
      fail("decoded size exceeds the limit of " + std::to_string(max_decoded_bytes) + " bytes");
    }
    Tensor t;
    try {
      t = decode_tensor_binary(frame, raw);
    } catch (const TensorFormatError& e) {
      fail("tensor '" + name + "': " + e.what());
    }
    budget -= raw;
    if (t.dtype != DType::float32) fail("tensor '" + name + "' is not float32");
    if (t.shape != expected.shape) {
      fail("tensor '" + name + "' has shape " + shape_text(t.shape) + ", '" + model.architecture +
           "' wants " + shape_text(expected.shape));
    }
    NamedTensor nt{std::move(name), std::move(t.shape), std::move(t.f32)};
    check_finite(nt);
    model.tensors.push_back(std::move(nt));
  }
  if (!in.done()) fail("trailing bytes after the last tensor");
  return model;
}

std::string model_sha256(const ModelState& model) {
  Checksum sha(ChecksumAlgorithm::sha256);
  sha.update(encode_model(model));
  const std::string digest = sha.digest();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : digest) {
    hex.push_back(kHex[c >> 4]);
    hex.push_back(kHex[c & 15]);
  }
  return hex;
}

void accumulate(ModelState& sum, const ModelState& addend) {
  check_same_layout(sum, addend, "accumulate");
  for (std::size_t i = 0; i < sum.tensors.size(); ++i) {
    float* s = sum.tensors[i].values.data();
    const float* a = addend.tensors[i].values.data();
    const std::size_t n = sum.tensors[i].values.size();
    for (std::size_t j = 0; j < n; ++j) s[j] += a[j];
  }
}

void divide(ModelState& model, std::uint32_t count) {
  if (count == 0) fail("divide: worker count is 0");
  const auto d = static_cast<float>(count);
  for (NamedTensor& t : model.tensors) {
    for (float& v : t.values) v = v / d;
  }
}

}  // namespace stratus::ml
