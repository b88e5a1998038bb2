// NumPy .npz interchange through libzip: a zip of stored `<name>.npy` entries, as numpy.savez
// writes them. Separate target (stratus_ml_npz): libzip has no static archive on Debian, and the
// static function bootstrap never needs this file.

#include <unistd.h>
#include <zip.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <system_error>

#include "stratus/ml/architectures.hpp"
#include "stratus/ml/model_state.hpp"

namespace stratus::ml {
namespace {

constexpr char kNpyMagic[] = "\x93NUMPY";
constexpr std::size_t kMaxHeaderBytes = 64 * 1024;

[[noreturn]] void fail(const std::string& what) {
  throw ModelFormatError("model: npz: " + what);
}

std::string shape_tuple(const std::vector<std::uint64_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s.append(", ");
    s.append(std::to_string(shape[i]));
  }
  if (shape.size() == 1) s.push_back(',');
  s.push_back(')');
  return s;
}

// .npy format 1.0: magic, version 1.0, u16 header length, a Python dict literal padded with
// spaces and ended by '\n' so that the data starts at a multiple of 64 bytes, then the data.
std::string npy_bytes(const NamedTensor& t) {
  std::string header =
      "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_tuple(t.shape) + ", }";
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  std::string out(kNpyMagic, 6);
  out.push_back('\x01');
  out.push_back('\x00');
  out.push_back(static_cast<char>(header.size() & 0xff));
  out.push_back(static_cast<char>(header.size() >> 8));
  out += header;
  const std::size_t start = out.size();
  out.resize(start + t.values.size() * sizeof(float));
  std::memcpy(out.data() + start, t.values.data(), t.values.size() * sizeof(float));  // x86: LE
  return out;
}

struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};
using ZipHandle = std::unique_ptr<zip_t, ZipCloser>;

std::string zip_error_text(zip_t* z) {
  return z ? zip_strerror(z) : "unknown libzip error";
}

// --- reading

struct NpyHeader {
  bool float64 = false;
  std::vector<std::uint64_t> shape;
  std::size_t data_offset = 0;
};

std::string_view value_after(std::string_view dict, std::string_view key, const std::string& name) {
  const std::size_t at = dict.find(key);
  if (at == std::string_view::npos) fail("'" + name + "': header has no " + std::string(key));
  std::string_view rest = dict.substr(at + key.size());
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  return rest;
}

NpyHeader parse_npy(std::string_view bytes, const std::string& name) {
  if (bytes.size() < 10 || bytes.substr(0, 6) != std::string_view(kNpyMagic, 6)) {
    fail("'" + name + "' is not a .npy array");
  }
  const auto major = static_cast<unsigned char>(bytes[6]);
  std::size_t header_len = 0, offset = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) |
                 (static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) fail("'" + name + "': truncated header");
    for (int i = 3; i >= 0; --i)
      header_len = (header_len << 8) | static_cast<unsigned char>(bytes[8 + i]);
    offset = 12;
  } else {
    fail("'" + name + "': unsupported .npy version " + std::to_string(major));
  }
  if (header_len > kMaxHeaderBytes || header_len > bytes.size() - offset) {
    fail("'" + name + "': header length out of bounds");
  }
  const std::string_view dict = bytes.substr(offset, header_len);
  NpyHeader h;
  h.data_offset = offset + header_len;
  const std::string_view descr = value_after(dict, "'descr':", name);
  if (descr.starts_with("'<f4'"))
    h.float64 = false;
  else if (descr.starts_with("'<f8'"))
    h.float64 = true;
  else
    fail("'" + name + "': dtype must be little-endian float32 ('<f4') or float64 ('<f8')");
  const std::string_view order = value_after(dict, "'fortran_order':", name);
  if (!order.starts_with("False")) fail("'" + name + "': Fortran-ordered arrays are not accepted");
  std::string_view shape = value_after(dict, "'shape':", name);
  if (shape.empty() || shape.front() != '(') fail("'" + name + "': malformed shape");
  shape.remove_prefix(1);
  for (;;) {
    while (!shape.empty() && (shape.front() == ' ' || shape.front() == ',')) shape.remove_prefix(1);
    if (shape.empty()) fail("'" + name + "': malformed shape");
    if (shape.front() == ')') break;
    std::uint64_t dim = 0;
    std::size_t digits = 0;
    while (!shape.empty() && shape.front() >= '0' && shape.front() <= '9') {
      if (++digits > 12) fail("'" + name + "': dimension too large");
      dim = dim * 10 + static_cast<std::uint64_t>(shape.front() - '0');
      shape.remove_prefix(1);
    }
    if (digits == 0) fail("'" + name + "': malformed shape");
    if (h.shape.size() == 8) fail("'" + name + "': too many dimensions");
    h.shape.push_back(dim);
  }
  return h;
}

std::atomic<std::uint64_t> g_temp_counter{0};

}  // namespace

void save_npz(const ModelState& model, const std::filesystem::path& file) {
  validate_model(model);
  const std::filesystem::path temp =
      file.parent_path() / (file.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" +
                            std::to_string(g_temp_counter++));
  std::vector<std::string> entries;
  entries.reserve(model.tensors.size());
  for (const NamedTensor& t : model.tensors) entries.push_back(npy_bytes(t));
  int error = 0;
  ZipHandle zip(zip_open(temp.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error));
  if (!zip) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, error);
    const std::string text = zip_error_strerror(&ze);
    zip_error_fini(&ze);
    fail("cannot create " + temp.string() + ": " + text);
  }
  auto give_up = [&](const std::string& what) {
    const std::string text = what + ": " + zip_error_text(zip.get());
    zip.reset();
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
    fail(text);
  };
  for (std::size_t i = 0; i < entries.size(); ++i) {
    zip_source_t* source = zip_source_buffer(zip.get(), entries[i].data(), entries[i].size(), 0);
    if (source == nullptr) give_up("zip_source_buffer");
    const std::string entry = model.tensors[i].name + ".npy";
    const zip_int64_t index = zip_file_add(zip.get(), entry.c_str(), source, ZIP_FL_ENC_UTF_8);
    if (index < 0) {
      zip_source_free(source);
      give_up("adding " + entry);
    }
    const auto u = static_cast<zip_uint64_t>(index);
    // Stored like numpy.savez, and stamped 1980-01-01 00:00 so the same model gives the same file.
    if (zip_set_file_compression(zip.get(), u, ZIP_CM_STORE, 0) != 0 ||
        zip_file_set_dostime(zip.get(), u, 0, (1 << 5) | 1, 0) != 0) {
      give_up("setting up " + entry);
    }
  }
  if (zip_close(zip.get()) != 0) give_up("writing " + temp.string());
  (void)zip.release();  // zip_close freed it
  std::error_code ec;
  std::filesystem::rename(temp, file, ec);
  if (ec) {
    std::filesystem::remove(temp, ec);
    fail("cannot rename into " + file.string());
  }
}

ModelState load_npz(const std::filesystem::path& file, std::string_view architecture) {
  const std::vector<TensorLayout> layout = architecture_layout(architecture);
  if (layout.empty()) fail("unknown architecture '" + std::string(architecture) + "'");
  int error = 0;
  ZipHandle zip(zip_open(file.c_str(), ZIP_RDONLY, &error));
  if (!zip) fail("cannot open " + file.string() + " as a zip archive");
  const zip_int64_t entries = zip_get_num_entries(zip.get(), 0);
  if (entries < 0 || static_cast<std::size_t>(entries) != layout.size()) {
    fail(file.string() + " has " + std::to_string(entries) + " arrays, '" +
         std::string(architecture) + "' has " + std::to_string(layout.size()));
  }
  std::map<std::string, zip_uint64_t> by_name;
  for (zip_int64_t i = 0; i < entries; ++i) {
    const char* n = zip_get_name(zip.get(), static_cast<zip_uint64_t>(i), 0);
    if (n == nullptr) fail("unreadable entry name");
    by_name[n] = static_cast<zip_uint64_t>(i);
  }
  ModelState model;
  model.architecture = std::string(architecture);
  for (const TensorLayout& expected : layout) {
    const std::string name(expected.name);
    const auto it = by_name.find(name + ".npy");
    if (it == by_name.end()) fail("no array '" + name + "'");
    std::uint64_t count = 1;
    for (std::uint64_t d : expected.shape) count *= d;
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(zip.get(), it->second, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE)) {
      fail("cannot stat '" + name + "'");
    }
    if (st.size > 12 + kMaxHeaderBytes + count * sizeof(double)) {
      fail("'" + name + "' is larger than its shape allows");
    }
    std::string bytes(static_cast<std::size_t>(st.size), '\0');
    zip_file_t* f = zip_fopen_index(zip.get(), it->second, 0);
    if (f == nullptr) fail("cannot read '" + name + "': " + zip_error_text(zip.get()));
    const zip_int64_t got = zip_fread(f, bytes.data(), bytes.size());
    zip_fclose(f);
    if (got < 0 || static_cast<std::uint64_t>(got) != st.size) fail("cannot read '" + name + "'");
    const NpyHeader h = parse_npy(bytes, name);
    if (h.shape != expected.shape) {
      fail("'" + name + "' has shape " + shape_tuple(h.shape) + ", '" + std::string(architecture) +
           "' wants " + shape_tuple(expected.shape));
    }
    const std::size_t item = h.float64 ? 8 : 4;
    if (bytes.size() - h.data_offset != count * item) {
      fail("'" + name + "' holds " + std::to_string(bytes.size() - h.data_offset) +
           " data bytes, its shape needs " + std::to_string(count * item));
    }
    NamedTensor t{name, expected.shape, std::vector<float>(static_cast<std::size_t>(count))};
    const char* data = bytes.data() + h.data_offset;
    for (std::size_t i = 0; i < t.values.size(); ++i) {
      if (h.float64) {
        double v;
        std::memcpy(&v, data + i * 8, 8);
        t.values[i] = static_cast<float>(v);
      } else {
        std::memcpy(&t.values[i], data + i * 4, 4);
      }
      if (!std::isfinite(t.values[i])) fail("'" + name + "' holds a non-finite value");
    }
    model.tensors.push_back(std::move(t));
  }
  return model;
}

}  // namespace stratus::ml
