// stratus-function-zip: writes a Lambda deployment zip, reproducibly.
//
//   stratus-function-zip --output functions.zip bootstrap=build/release/functions/stratus/bootstrap
//
// Each NAME=PATH entry stores the file PATH as NAME. Lambda decides what it may execute from the
// unix mode bits in the zip, so every entry records them: 0755 when the owner may execute the
// source file, 0644 otherwise (normalised, so the build machine's umask does not leak in). The
// same inputs give byte-identical zips: entries are sorted by name, contents are read into memory
// (no file metadata is copied), and every entry gets one fixed timestamp, SOURCE_DATE_EPOCH when
// set (the reproducible-builds convention), else 2024-01-01 00:00:00 UTC.

#include <sys/stat.h>
#include <zip.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct Entry {
  std::string name;
  std::string path;
  std::string contents;
  std::uint32_t mode = 0644;
};

struct DosTime {
  std::uint16_t time = 0;
  std::uint16_t date = 0;
};

constexpr std::time_t kDefaultTimestamp = 1704067200;  // 2024-01-01T00:00:00Z

// DOS timestamps carry no zone; converting with gmtime (not localtime, as zip_file_set_mtime
// would) keeps the archive independent of the build machine's TZ.
DosTime dos_time(std::time_t when) {
  std::tm utc{};
  if (gmtime_r(&when, &utc) == nullptr || utc.tm_year < 80 || utc.tm_year > 207) {
    throw std::runtime_error("timestamp " + std::to_string(when) +
                             " is outside the zip format's range (1980-2107)");
  }
  DosTime dos;
  dos.time = static_cast<std::uint16_t>((utc.tm_hour << 11) | (utc.tm_min << 5) | (utc.tm_sec / 2));
  dos.date =
      static_cast<std::uint16_t>(((utc.tm_year - 80) << 9) | ((utc.tm_mon + 1) << 5) | utc.tm_mday);
  return dos;
}

std::time_t entry_timestamp() {
  const char* epoch = std::getenv("SOURCE_DATE_EPOCH");
  if (epoch == nullptr || *epoch == '\0') return kDefaultTimestamp;
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(epoch, &end, 10);
  if (errno != 0 || *end != '\0' || value < 0) {
    throw std::runtime_error(std::string("SOURCE_DATE_EPOCH is not a number of seconds: ") + epoch);
  }
  return static_cast<std::time_t>(value);
}

Entry read_entry(const std::string& spec) {
  const auto equals = spec.find('=');
  if (equals == std::string::npos || equals == 0 || equals + 1 == spec.size()) {
    throw std::runtime_error("entry '" + spec + "' is not NAME=PATH");
  }
  Entry entry;
  entry.name = spec.substr(0, equals);
  entry.path = spec.substr(equals + 1);
  if (entry.name.front() == '/' || entry.name.find("..") != std::string::npos) {
    throw std::runtime_error("entry name '" + entry.name + "' must be a relative path without ..");
  }
  struct stat status {};
  if (::stat(entry.path.c_str(), &status) != 0) {
    throw std::runtime_error("cannot stat " + entry.path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(status.st_mode)) throw std::runtime_error(entry.path + " is not a regular file");
  entry.mode = (status.st_mode & S_IXUSR) != 0 ? 0755 : 0644;
  std::ifstream file(entry.path, std::ios::binary);
  entry.contents.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  if (!file.good() && !file.eof()) throw std::runtime_error("cannot read " + entry.path);
  return entry;
}

struct ArchiveDeleter {
  void operator()(zip_t* archive) const { zip_discard(archive); }
};

void write_zip(const std::string& output, const std::vector<Entry>& entries, DosTime when) {
  // libzip writes to a temporary file next to `output` and renames it on zip_close, so a failed
  // run never leaves a half-written zip behind.
  int error_code = 0;
  std::unique_ptr<zip_t, ArchiveDeleter> archive(
      zip_open(output.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error_code));
  if (!archive) {
    zip_error_t error;
    zip_error_init_with_code(&error, error_code);
    const std::string message = zip_error_strerror(&error);
    zip_error_fini(&error);
    throw std::runtime_error("cannot create " + output + ": " + message);
  }
  auto check = [&](bool ok, const std::string& what) {
    if (!ok) throw std::runtime_error(what + ": " + zip_strerror(archive.get()));
  };
  for (const Entry& entry : entries) {
    zip_source_t* source =
        zip_source_buffer(archive.get(), entry.contents.data(), entry.contents.size(), 0);
    check(source != nullptr, "cannot add " + entry.name);
    const zip_int64_t index = zip_file_add(archive.get(), entry.name.c_str(), source, 0);
    if (index < 0) zip_source_free(source);
    check(index >= 0, "cannot add " + entry.name);
    const auto at = static_cast<zip_uint64_t>(index);
    check(zip_set_file_compression(archive.get(), at, ZIP_CM_DEFLATE, 9) == 0,
          "cannot set compression of " + entry.name);
    check(zip_file_set_external_attributes(archive.get(), at, 0, ZIP_OPSYS_UNIX,
                                           (S_IFREG | entry.mode) << 16) == 0,
          "cannot set the mode of " + entry.name);
    check(zip_file_set_dostime(archive.get(), at, when.time, when.date, 0) == 0,
          "cannot set the timestamp of " + entry.name);
  }
  check(zip_close(archive.get()) == 0, "cannot write " + output);
  archive.release();  // zip_close freed it
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Writes a reproducible Lambda deployment zip (unix modes, fixed timestamps)."};
  std::string output;
  std::vector<std::string> specs;
  app.add_option("-o,--output", output, "zip file to write")->required();
  app.add_option("entries", specs, "NAME=PATH: store the file PATH as NAME")->required();
  CLI11_PARSE(app, argc, argv);

  try {
    std::vector<Entry> entries;
    for (const std::string& spec : specs) entries.push_back(read_entry(spec));
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return a.name < b.name; });
    for (std::size_t i = 1; i < entries.size(); ++i) {
      if (entries[i].name == entries[i - 1].name) {
        throw std::runtime_error("entry name '" + entries[i].name + "' given twice");
      }
    }
    write_zip(output, entries, dos_time(entry_timestamp()));
  } catch (const std::exception& error) {
    std::cerr << "stratus-function-zip: " << error.what() << '\n';
    return 1;
  }
  return 0;
}
