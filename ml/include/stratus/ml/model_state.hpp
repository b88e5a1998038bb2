#pragma once
// What travels between functions, S3 and the trainer: a model as named, shaped float32 tensors,
// in the fixed order its architecture defines (architectures.hpp). Everything here is plain data
// and declarations; the code is compiled inside stratus_ml only (see cmake/StratusNumerics.cmake).

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace stratus::ml {

struct NamedTensor {
  std::string name;  // DESIGN.md npz names: "l1.weight" [in,out], "l1.bias" [out],
                     // "conv1.weight" [kh,kw,in,out], "fc1.weight", ...
  std::vector<std::uint64_t> shape;
  std::vector<float> values;  // row-major
};

struct ModelState {
  std::string architecture;          // "cloud2018-casea/1", "cloud2018-caseb/1", ...
  std::vector<NamedTensor> tensors;  // fixed order defined by the architecture
};

// Bytes or files that are not a valid model of a known architecture. The message starts with
// "model: " and says which check failed.
class ModelFormatError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// `stratus-model/1`, little-endian:
//   "STMD" | u8 version = 1 | 3 reserved zero bytes | u32 architecture length | architecture
//   | u32 tensor count | per tensor: u32 name length | name | u64 frame length | frame
// where each frame is a binary stratus-tensor/1 frame (stratus/common/tensor_codec.hpp, float32,
// stored without compression: trained weights do not compress, and level 0 keeps it a copy).
// Same state -> same bytes. encode refuses a state that decode would refuse.
std::string encode_model(const ModelState& model);
// Validates everything (hostile input): layout, known architecture, names/shapes/order exactly the
// architecture's, float32, no NaN/Inf, raw size within max_decoded_bytes (checked before any
// allocation). Throws ModelFormatError.
ModelState decode_model(std::string_view bytes, std::uint64_t max_decoded_bytes);
// Lower-case hex SHA-256 of encode_model's bytes.
std::string model_sha256(const ModelState& model);

// NumPy .npz interchange (zip of .npy, float32, DESIGN.md names), via libzip. These two live in
// the separate target `stratus_ml_npz` (libzip has no static archive on Debian, and the static
// function bootstrap never needs them): link it where they are called.
// save_npz is atomic (temporary file in the same directory, then rename) and deterministic (fixed
// entry order and timestamps, stored entries, as numpy.savez writes them).
void save_npz(const ModelState& model, const std::filesystem::path& file);
// Reads `name.npy` for every tensor of `architecture`; accepts little-endian float32 (or float64,
// converted), C order, exact shapes, finite values, no other entries. Throws ModelFormatError.
ModelState load_npz(const std::filesystem::path& file, std::string_view architecture);

// Model averaging (the merge tree): elementwise sum in place, same architecture, names and shapes
// (ModelFormatError otherwise); and the root's division by the worker count (count > 0).
void accumulate(ModelState& sum, const ModelState& addend);
void divide(ModelState& model, std::uint32_t count);  // values[i] = values[i] / float(count)

// Throws ModelFormatError unless `model` has exactly its architecture's names, shapes and value
// counts, in order, with finite values. encode_model and the training kernels call it.
void validate_model(const ModelState& model);

}  // namespace stratus::ml
