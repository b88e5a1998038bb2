#include "stratus/trainer/dataset.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <string>
#include <type_traits>

#include "source_reader.hpp"
#include "stratus/ml/split_mix64.hpp"
#include "stratus/trainer/dataset_readers.hpp"

namespace stratus::trainer {

using SeededRandom = ml::SplitMix64;

Dataset make_synthetic_linear(const SyntheticLinearSpec& spec, std::vector<double>* true_weights,
                              double* true_bias) {
  if (spec.rows == 0 || spec.features == 0)
    throw DatasetError("synthetic data needs rows and features > 0");
  SeededRandom rng(spec.seed);
  std::vector<double> w(spec.features);
  for (auto& v : w) v = rng.normal();
  double b = rng.normal();
  Dataset d;
  d.rows = spec.rows;
  d.features = spec.features;
  d.x.resize(spec.rows * spec.features);
  d.y.resize(spec.rows);
  for (std::size_t i = 0; i < spec.rows; ++i) {
    double target = b;
    float* row = &d.x[i * spec.features];
    for (std::size_t j = 0; j < spec.features; ++j) {
      row[j] = static_cast<float>(rng.uniform(-1.0, 1.0));
      target += w[j] * row[j];
    }
    d.y[i] = static_cast<float>(target + spec.noise * rng.normal());
  }
  if (true_weights) *true_weights = w;
  if (true_bias) *true_bias = b;
  return d;
}

namespace {

constexpr std::size_t kMaxCsvLine = std::size_t{1} << 20;
constexpr std::size_t kMaxCsvClasses = 65536;

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r'))
    text.remove_suffix(1);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  return text;
}

template <typename Number>
bool parse_number(std::string_view text, Number& out) {
  text = trim(text);
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || ptr != text.data() + text.size()) return false;
  if constexpr (std::is_floating_point_v<Number>) return std::isfinite(out);
  return true;
}

// Splits a stream into lines without ever holding more than one (bounded) line.
class LineReader {
 public:
  explicit LineReader(detail::SourceReader& reader) : reader_(reader) {}
  bool next(std::string& line) {
    line.clear();
    for (;;) {
      if (position_ == buffered_) {
        buffered_ = reader_.read(buffer_.data(), buffer_.size());
        position_ = 0;
        if (buffered_ == 0) return !line.empty();
      }
      const char* begin = buffer_.data() + position_;
      const char* end = buffer_.data() + buffered_;
      const char* newline = std::find(begin, end, '\n');
      line.append(begin, newline);
      position_ = static_cast<std::size_t>(newline - buffer_.data());
      if (line.size() > kMaxCsvLine) {
        reader_.fail("line " + std::to_string(line_number_ + 1) + " is longer than " +
                     std::to_string(kMaxCsvLine) + " bytes");
      }
      if (newline != end) {
        ++position_;
        ++line_number_;
        return true;
      }
    }
  }

 private:
  detail::SourceReader& reader_;
  std::array<char, 64 * 1024> buffer_{};
  std::size_t buffered_ = 0;
  std::size_t position_ = 0;
  std::size_t line_number_ = 0;
};

struct CsvTable {
  std::size_t rows = 0;
  std::size_t features = 0;
  std::vector<float> x;
  std::vector<float> y;
  std::vector<std::int32_t> classes_y;
  SourceFile source;
};

// features..., label per line; an optional header line (any non-numeric first line); blank lines
// skipped. Errors name the file, line and column.
CsvTable parse_csv(const std::filesystem::path& file, bool integer_labels,
                   const ReadLimits& limits) {
  detail::SourceReader reader(file);
  LineReader lines(reader);
  CsvTable table;
  std::string line;
  std::size_t line_number = 0;
  std::vector<std::string_view> cells;
  std::vector<float> values;
  auto where = [&](std::size_t number) {
    return file.string() + ":" + std::to_string(number) + ": ";
  };
  while (lines.next(line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    cells.clear();
    for (std::size_t start = 0;;) {
      const auto comma = line.find(',', start);
      cells.emplace_back(line.data() + start,
                         (comma == std::string::npos ? line.size() : comma) - start);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    values.clear();
    std::size_t bad_column = 0;
    for (std::size_t c = 0; c < cells.size(); ++c) {
      float v = 0;
      if (!parse_number(cells[c], v)) {
        bad_column = c + 1;
        break;
      }
      values.push_back(v);
    }
    if (bad_column != 0) {
      if (table.rows == 0 && line_number == 1) continue;  // a header
      throw DatasetError(where(line_number) + "column " + std::to_string(bad_column) +
                         " is not a finite number");
    }
    if (values.size() < 2)
      throw DatasetError(where(line_number) + "needs at least one feature and a target");
    if (table.features == 0) table.features = values.size() - 1;
    if (values.size() != table.features + 1) {
      throw DatasetError(where(line_number) + "has " + std::to_string(values.size()) +
                         " columns, expected " + std::to_string(table.features + 1));
    }
    if (integer_labels) {
      // Parsed again as double: exact for every int32, where float is not.
      double label = 0;
      parse_number(cells.back(), label);
      if (label != std::floor(label) || label < -2147483648.0 || label > 2147483647.0) {
        throw DatasetError(where(line_number) + "column " + std::to_string(cells.size()) +
                           ": a class label must be an integer in int32 range");
      }
      table.classes_y.push_back(static_cast<std::int32_t>(label));
    } else {
      table.y.push_back(values.back());
    }
    table.x.insert(table.x.end(), values.begin(), values.end() - 1);
    ++table.rows;
    if ((table.x.size() + table.rows) * sizeof(float) > limits.max_bytes) {
      throw DatasetError(where(line_number) + "the data exceeds the limit of " +
                         std::to_string(limits.max_bytes) + " bytes");
    }
  }
  if (table.rows == 0) throw DatasetError("'" + file.string() + "' has no data rows");
  table.source = reader.finish();
  return table;
}

}  // namespace

Dataset load_csv(const std::filesystem::path& file) {
  CsvTable table = parse_csv(file, false, ReadLimits{});
  Dataset d;
  d.rows = table.rows;
  d.features = table.features;
  d.x = std::move(table.x);
  d.y = std::move(table.y);
  return d;
}

LabeledData read_csv(const std::filesystem::path& file, CsvLabels labels,
                     const ReadLimits& limits) {
  const bool integer_labels = labels == CsvLabels::int32_classes;
  CsvTable table = parse_csv(file, integer_labels, limits);
  LabeledData data;
  data.features = Tensor::of_f32({table.rows, table.features}, std::move(table.x));
  if (integer_labels) {
    std::vector<std::int32_t> classes = table.classes_y;
    std::sort(classes.begin(), classes.end());
    classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
    if (classes.size() > kMaxCsvClasses) {
      throw DatasetError(file.string() + ": " + std::to_string(classes.size()) +
                         " distinct labels, more than the " + std::to_string(kMaxCsvClasses) +
                         " classes allowed (float32 targets instead?)");
    }
    data.classes = std::move(classes);
    data.labels = Tensor::of_i32({table.rows}, std::move(table.classes_y));
  } else {
    data.labels = Tensor::of_f32({table.rows}, std::move(table.y));
  }
  data.sources = {std::move(table.source)};
  return data;
}

}  // namespace stratus::trainer
