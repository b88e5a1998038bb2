// For bench/ml/torch_crosscheck.py: writes an initial model (npz-free raw dump) and one
// minibatch, then the engine's loss and gradients on it, so PyTorch can recompute both on the
// identical weights. Usage: stratus-ml-crosscheck-dump casea|caseb OUT_DIR
// Files: param<i>.f32 (row-major, DESIGN.md layout), grad<i>.f32, features.(f32|u8),
// labels.i32, loss.txt, shapes.txt (one "name d0 d1 ..." line per tensor).

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "stratus/ml/architectures.hpp"
#include "stratus/ml/split_mix64.hpp"
#include "stratus/ml/worker_round.hpp"

using namespace stratus;
using namespace stratus::ml;

template <typename T>
void write(const std::string& path, const std::vector<T>& v) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(v.data()),
            static_cast<std::streamsize>(v.size() * sizeof(T)));
}

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: stratus-ml-crosscheck-dump casea|caseb OUT_DIR\n";
    return 2;
  }
  const std::string which = argv[1], dir = argv[2];
  SplitMix64 r(99);
  Shard shard;
  ModelState model;
  std::uint32_t batch = 0;
  if (which == "casea") {
    batch = 50;
    std::vector<float> f(batch * 20);
    std::vector<std::int32_t> l(batch);
    for (auto& v : f) v = (r.next() >> 63) ? 1.0f : -1.0f;
    for (std::uint32_t i = 0; i < batch; ++i) l[i] = f[i * 20 + 19] > 0 ? 1 : -1;
    shard.features = Tensor::of_f32({batch, 20}, f);
    shard.labels = Tensor::of_i32({batch}, l);
    model = initial_model(kCaseA, 7);
    write(dir + "/features.f32", f);
    write(dir + "/labels.i32", l);
  } else if (which == "caseb") {
    batch = 25;
    std::vector<std::uint8_t> f(batch * 3 * 32 * 32);
    for (auto& v : f) v = static_cast<std::uint8_t>(r.next() >> 56);
    std::vector<std::int32_t> l(batch);
    for (auto& v : l) v = static_cast<std::int32_t>(r.next() % 10);
    shard.features = Tensor::of_u8({batch, 3, 32, 32}, f);
    shard.labels = Tensor::of_i32({batch}, l);
    model = initial_model(kCaseB, 7, Initialisation::Tutorial);
    write(dir + "/features.u8", f);
    write(dir + "/labels.i32", l);
  } else {
    std::cerr << "unknown case " << which << "\n";
    return 2;
  }
  RoundStats stats;
  const ModelState grads = minibatch_gradients(model, shard, 0, batch, &stats);
  std::ofstream shapes(dir + "/shapes.txt");
  for (std::size_t i = 0; i < model.tensors.size(); ++i) {
    shapes << model.tensors[i].name;
    for (auto d : model.tensors[i].shape) shapes << ' ' << d;
    shapes << '\n';
    write(dir + "/param" + std::to_string(i) + ".f32", model.tensors[i].values);
    write(dir + "/grad" + std::to_string(i) + ".f32", grads.tensors[i].values);
  }
  std::ofstream(dir + "/loss.txt") << std::hexfloat << stats.loss_sum << '\n';
  return 0;
}
