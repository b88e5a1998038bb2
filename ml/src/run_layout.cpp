// The S3 key layout of a run (model_averaging.hpp): one prefix per run, five-digit numbers so that
// listings sort in round and worker order.

#include <cstdio>

#include "stratus/ml/model_averaging.hpp"

namespace stratus::ml::averaging {
namespace {

std::string five(std::uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "%05u", value);
  return text;
}

}  // namespace

RunLayout::RunLayout(std::string run_id) {
  validate_run_id(run_id);
  prefix_ = "runs/" + run_id + "/";
}

std::string RunLayout::config() const {
  return prefix_ + "config.json";
}
std::string RunLayout::model(std::uint32_t round) const {
  return prefix_ + "model/round-" + five(round) + ".bin";
}
std::string RunLayout::round_prefix(std::uint32_t round) const {
  return prefix_ + "round-" + five(round) + "/";
}
std::string RunLayout::node(std::uint32_t round, TreeNode node) const {
  return round_prefix(round) + "node-" + std::to_string(node.level) + "-" + five(node.index) +
         ".bin";
}
std::string RunLayout::trace_prefix(std::uint32_t round) const {
  return round_prefix(round) + "trace-";
}
std::string RunLayout::trace(std::uint32_t round, std::uint32_t worker, std::uint32_t hop) const {
  return trace_prefix(round) + five(worker) + "-" + five(hop) + ".json";
}
std::string RunLayout::round_record(std::uint32_t round) const {
  return prefix_ + "rounds/round-" + five(round) + ".json";
}
std::string RunLayout::errors_prefix() const {
  return prefix_ + "errors/";
}
std::string RunLayout::error(std::uint32_t round, std::uint32_t worker) const {
  return errors_prefix() + "round-" + five(round) + "-worker-" + five(worker) + ".json";
}
std::string RunLayout::chain(std::uint32_t worker) const {
  return prefix_ + "chain/worker-" + five(worker) + ".json";
}
std::string RunLayout::alive_prefix() const {
  return prefix_ + "alive/";
}
std::string RunLayout::alive(std::uint32_t worker, std::uint32_t hop) const {
  return alive_prefix() + "worker-" + five(worker) + "-" + five(hop) + ".json";
}
std::string RunLayout::stop() const {
  return prefix_ + "stop";
}

}  // namespace stratus::ml::averaging
