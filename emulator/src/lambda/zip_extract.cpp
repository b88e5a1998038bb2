#include "stratus/emulator/lambda/zip_extract.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <memory>
#include <string>
#include <vector>

namespace stratus::emulator {

namespace fs = std::filesystem;

bool is_safe_entry_name(std::string_view name) {
  if (name.empty() || name.front() == '/' || name.find('\\') != std::string_view::npos) return false;
  if (name.find('\0') != std::string_view::npos) return false;
  std::size_t start = 0;
  while (start < name.size()) {
    auto slash = name.find('/', start);
    auto part = name.substr(start, slash == std::string_view::npos ? name.npos : slash - start);
    if (part == "..") return false;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return true;
}

namespace {

struct ZipArchiveCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};
struct ZipFileCloser {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};

struct PendingSymlink {
  fs::path link;
  std::string target;
};

// A symlink may only point somewhere inside the extracted tree.
bool symlink_stays_inside(const std::string& entry_name, const std::string& target) {
  // A NUL would cut the target short when the link is made: check what will really be created.
  if (target.empty() || target.front() == '/' || target.find('\0') != std::string::npos) return false;
  fs::path resolved = (fs::path(entry_name).parent_path() / target).lexically_normal();
  auto first = resolved.begin();
  return first != resolved.end() && *first != ".." && !resolved.is_absolute();
}

void write_entry(zip_t* archive, zip_uint64_t index, const fs::path& path, mode_t mode,
                 std::uint64_t& budget, std::uint64_t& total) {
  std::unique_ptr<zip_file_t, ZipFileCloser> file(zip_fopen_index(archive, index, 0));
  if (!file) throw ZipError("cannot read entry: " + std::string(zip_strerror(archive)));
  // O_EXCL + O_NOFOLLOW: never write through something an earlier entry created.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) throw ZipError("cannot create '" + path.filename().string() + "' (duplicate entry?)");
  std::vector<char> buffer(1 << 16);
  bool ok = true;
  while (true) {
    zip_int64_t n = zip_fread(file.get(), buffer.data(), buffer.size());
    if (n < 0) {
      ok = false;
      break;
    }
    if (n == 0) break;
    if (static_cast<std::uint64_t>(n) > budget) {
      ::close(fd);
      throw ZipError("unzipped code is larger than the limit");
    }
    budget -= static_cast<std::uint64_t>(n);
    total += static_cast<std::uint64_t>(n);
    for (zip_int64_t off = 0; off < n;) {
      ssize_t w = ::write(fd, buffer.data() + off, static_cast<std::size_t>(n - off));
      if (w <= 0) {
        ::close(fd);
        throw ZipError("cannot write extracted file: disk full?");
      }
      off += w;
    }
  }
  ::fchmod(fd, mode);
  ::close(fd);
  if (!ok) throw ZipError("corrupt zip entry (CRC or inflate error)");
}

}  // namespace

ZipExtraction extract_zip(std::string_view zip_bytes, const fs::path& target_dir,
                          std::uint64_t max_unzipped_bytes) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* source = zip_source_buffer_create(zip_bytes.data(), zip_bytes.size(), 0, &error);
  if (!source) throw ZipError("cannot read zip");
  std::unique_ptr<zip_t, ZipArchiveCloser> archive(zip_open_from_source(source, ZIP_RDONLY, &error));
  if (!archive) {
    zip_source_free(source);
    std::string message = zip_error_strerror(&error);
    zip_error_fini(&error);
    throw ZipError("not a valid zip archive: " + message);
  }
  zip_error_fini(&error);

  std::error_code ec;
  if (!fs::create_directory(target_dir, ec) || ec) {
    throw ZipError("cannot create code directory '" + target_dir.string() + "'");
  }
  ZipExtraction result;
  try {
    std::uint64_t budget = max_unzipped_bytes;
    std::vector<PendingSymlink> symlinks;
    zip_int64_t count = zip_get_num_entries(archive.get(), 0);
    for (zip_int64_t i = 0; i < count; ++i) {
      auto index = static_cast<zip_uint64_t>(i);
      const char* raw_name = zip_get_name(archive.get(), index, ZIP_FL_ENC_GUESS);
      if (!raw_name) throw ZipError("unreadable entry name");
      std::string name(raw_name);
      if (!is_safe_entry_name(name)) throw ZipError("entry '" + name + "' escapes the code directory");
      zip_uint8_t opsys = ZIP_OPSYS_DEFAULT;
      zip_uint32_t attributes = 0;
      zip_file_get_external_attributes(archive.get(), index, 0, &opsys, &attributes);
      mode_t unix_mode = opsys == ZIP_OPSYS_UNIX ? static_cast<mode_t>(attributes >> 16) : 0;
      fs::path path = target_dir / fs::path(name).relative_path();
      bool is_dir = name.back() == '/' || S_ISDIR(unix_mode);
      if (is_dir) {
        fs::create_directories(path);
        continue;
      }
      fs::create_directories(path.parent_path());
      if (S_ISLNK(unix_mode)) {
        // The link target is the entry's content; bounded like any other content.
        zip_stat_t st;
        if (zip_stat_index(archive.get(), index, 0, &st) != 0 || st.size > 4096) {
          throw ZipError("symlink entry '" + name + "' is malformed");
        }
        std::string target(static_cast<std::size_t>(st.size), '\0');
        std::unique_ptr<zip_file_t, ZipFileCloser> file(zip_fopen_index(archive.get(), index, 0));
        if (!file || zip_fread(file.get(), target.data(), target.size()) !=
                         static_cast<zip_int64_t>(target.size())) {
          throw ZipError("symlink entry '" + name + "' is unreadable");
        }
        if (!symlink_stays_inside(name, target)) {
          throw ZipError("symlink '" + name + "' points outside the code directory");
        }
        symlinks.push_back({path, target});
        continue;
      }
      // Without unix mode bits (archives made on Windows) files are readable, not executable.
      mode_t mode = unix_mode ? (unix_mode & 0777) : 0644;
      write_entry(archive.get(), index, path, mode | 0400, budget, result.unzipped_bytes);
      ++result.files;
    }
    // Symlinks last, so no file above was ever written through one.
    for (const auto& link : symlinks) {
      if (::symlink(link.target.c_str(), link.link.c_str()) != 0) {
        throw ZipError("cannot create symlink '" + link.link.filename().string() + "'");
      }
    }
    // Each target was checked on its own, but links can lead through each other ("d -> .",
    // "e -> d/.."). Resolve every link the way the kernel will and require it to stay inside.
    const fs::path root = fs::canonical(target_dir);
    for (const auto& link : symlinks) {
      fs::path resolved = fs::weakly_canonical(link.link);
      fs::path relative = resolved.lexically_relative(root);
      if (relative.empty() || *relative.begin() == "..") {
        throw ZipError("symlink '" + link.link.lexically_relative(target_dir).string() +
                       "' leads outside the code directory");
      }
    }
  } catch (const fs::filesystem_error& e) {
    fs::remove_all(target_dir, ec);
    throw ZipError(std::string("cannot extract: ") + e.code().message());
  } catch (...) {
    fs::remove_all(target_dir, ec);
    throw;
  }
  return result;
}

}  // namespace stratus::emulator
