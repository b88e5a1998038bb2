// Fuzzes extract_zip. Two input modes:
//   - input starting with "PK": the raw uploaded zip, so the archive parser itself is exercised;
//   - anything else: a text list of entries (see build_zip below) turned into a well-formed
//     stored zip with correct CRCs. Byte-level mutations of a real zip almost always break a CRC
//     or a header, so this mode is what lets the fuzzer explore names, modes and symlink targets.
// Each run extracts into a fresh directory <sandbox>/code, then walks what was written, without
// following symlinks, and checks that
//   - nothing appeared beside <sandbox>/code,
//   - only directories, regular files and symlinks were made, no setuid/setgid bits,
//   - the byte and file counts reported match what is on disk, within the limit,
//   - every symlink, resolved component by component the way the kernel does (through other
//     symlinks, with ".." applied to the real directory reached), stays inside <sandbox>/code.
// ZipError is the only exception allowed; after it the target directory must be gone.

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "fuzz_check.hpp"
#include "stratus/emulator/lambda/zip_extract.hpp"

namespace {

namespace fs = std::filesystem;
namespace se = stratus::emulator;

// Small, so the size limit is reached often and each run stays fast.
constexpr std::uint64_t kMaxBytes = 1 << 20;

fs::path g_sandbox;  // canonical; holds only `code` while a run is in progress
bool g_verbose = false;  // STRATUS_FUZZ_VERBOSE=1: say what each input extracted to

void remove_sandbox() {
  std::error_code ec;
  if (!g_sandbox.empty()) fs::remove_all(g_sandbox.parent_path(), ec);
}

std::vector<std::string> split_components(const std::string& p) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= p.size()) {
    auto slash = p.find('/', start);
    auto end = slash == std::string::npos ? p.size() : slash;
    out.push_back(p.substr(start, end - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return out;
}

bool is_inside(const fs::path& path, const fs::path& root) {
  auto r = root.begin();
  auto p = path.begin();
  for (; r != root.end(); ++r, ++p) {
    if (p == path.end() || *p != *r) return false;
  }
  return true;
}

// Where `target`, read from a symlink in directory `dir` (canonical), leads. Components are
// resolved like the kernel does: symlinks are followed and ".." goes to the parent of the real
// directory reached. A component that does not exist (or is not a directory) is kept as if it were
// a plain directory, which over-approximates where the link could lead once the tree changes.
// Returns false for a symlink loop, which the kernel refuses to follow.
bool resolve_link(const fs::path& dir, const std::string& target, fs::path& out) {
  std::vector<std::string> cur;  // components below "/"
  for (const auto& c : dir) {
    if (c != "/") cur.push_back(c.string());
  }
  std::deque<std::string> pending;
  auto push_front = [&](const std::string& t) {
    auto parts = split_components(t);
    pending.insert(pending.begin(), parts.begin(), parts.end());
    if (!t.empty() && t.front() == '/') cur.clear();
  };
  push_front(target);
  int hops = 0;
  // How many leading components of `cur` are known to exist as real directories; past that, a
  // component is taken as a plain directory and not looked up.
  std::size_t real_depth = cur.size();
  while (!pending.empty()) {
    std::string c = std::move(pending.front());
    pending.pop_front();
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (!cur.empty()) cur.pop_back();
      if (real_depth > cur.size()) real_depth = cur.size();
      continue;
    }
    cur.push_back(c);
    if (real_depth != cur.size() - 1) continue;
    fs::path here = "/";
    for (const auto& part : cur) here /= part;
    struct stat st;
    if (::lstat(here.c_str(), &st) != 0) continue;
    if (S_ISLNK(st.st_mode)) {
      if (++hops > 40) return false;
      std::error_code ec;
      fs::path link = fs::read_symlink(here, ec);
      FUZZ_CHECK(!ec);
      cur.pop_back();
      push_front(link.string());
      if (real_depth > cur.size()) real_depth = cur.size();
    } else if (S_ISDIR(st.st_mode)) {
      real_depth = cur.size();
    }
  }
  out = "/";
  for (const auto& part : cur) out /= part;
  return true;
}

void check_tree(const fs::path& root, const se::ZipExtraction& result) {
  // Nothing was created beside the target directory.
  for (const auto& e : fs::directory_iterator(g_sandbox)) {
    FUZZ_CHECK_MSG(e.path() == root, "'%s' appeared outside the code directory",
                   e.path().c_str());
  }
  struct stat root_st;
  FUZZ_CHECK(::lstat(root.c_str(), &root_st) == 0 && S_ISDIR(root_st.st_mode));

  std::uint64_t bytes = 0;
  std::size_t files = 0;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    const fs::path& p = it->path();
    FUZZ_CHECK(is_inside(p.lexically_normal(), root));
    struct stat st;
    FUZZ_CHECK(::lstat(p.c_str(), &st) == 0);
    FUZZ_CHECK_MSG((st.st_mode & (S_ISUID | S_ISGID)) == 0, "'%s' is setuid/setgid", p.c_str());
    if (S_ISREG(st.st_mode)) {
      FUZZ_CHECK(st.st_mode & S_IRUSR);
      bytes += static_cast<std::uint64_t>(st.st_size);
      ++files;
    } else if (S_ISLNK(st.st_mode)) {
      std::error_code ec;
      std::string target = fs::read_symlink(p, ec).string();
      FUZZ_CHECK(!ec);
      fs::path resolved;
      if (resolve_link(p.parent_path(), target, resolved)) {
        FUZZ_CHECK_MSG(is_inside(resolved, root), "symlink '%s' -> '%s' resolves to '%s'",
                       p.lexically_relative(root).c_str(), target.c_str(), resolved.c_str());
      }
    } else {
      FUZZ_CHECK_MSG(S_ISDIR(st.st_mode), "'%s' has file type %o", p.c_str(),
                     static_cast<unsigned>(st.st_mode & S_IFMT));
    }
  }
  FUZZ_CHECK(result.unzipped_bytes <= kMaxBytes);
  FUZZ_CHECK(bytes == result.unzipped_bytes);
  FUZZ_CHECK(files == result.files);
}

// ---- structured mode --------------------------------------------------------------------------
// Input: one entry per line, "KIND NAME<TAB>CONTENT" (CONTENT may hold any byte but a newline;
// for a symlink it is the target). KIND is a letter and optional modifiers:
//   f file 0644, x file 0755, d directory 0755, l symlink 0777, p FIFO 0644; any other letter is
//   a file; upper case = made on MS-DOS/Windows (no unix mode bits);
//   modifier s = setuid and setgid bits, c = wrong CRC.
// A text format keeps libFuzzer's insertions and deletions from wrecking the structure, and
// crash inputs readable, e.g. "l d\t.\nl e\td/..\n".
// The zip is written by hand (stored entries, zip 2.0 headers) so that anything can be encoded.

std::uint32_t crc32(std::string_view data) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

void put16(std::string& out, std::uint32_t v) {
  out.push_back(static_cast<char>(v & 0xFF));
  out.push_back(static_cast<char>((v >> 8) & 0xFF));
}
void put32(std::string& out, std::uint32_t v) {
  put16(out, v & 0xFFFF);
  put16(out, v >> 16);
}

std::string build_zip(std::string_view in) {
  struct Entry {
    std::string_view name, content;
    std::uint32_t crc, external, offset;
    bool dos;
  };
  std::vector<Entry> entries;
  while (!in.empty() && entries.size() < 64) {
    auto nl = in.find('\n');
    std::string_view line = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
    if (line.empty()) continue;

    auto space = line.find(' ');
    std::string_view kind = line.substr(0, space);
    std::string_view rest =
        space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
    auto tab = rest.find('\t');
    std::string_view name = rest.substr(0, tab);
    std::string_view content =
        tab == std::string_view::npos ? std::string_view{} : rest.substr(tab + 1);

    char letter = kind[0];
    bool dos = letter >= 'A' && letter <= 'Z';
    if (dos) letter = static_cast<char>(letter - 'A' + 'a');
    std::uint32_t mode = S_IFREG | 0644;
    if (letter == 'x') mode = S_IFREG | 0755;
    if (letter == 'd') mode = S_IFDIR | 0755;
    if (letter == 'l') mode = S_IFLNK | 0777;
    if (letter == 'p') mode = S_IFIFO | 0644;
    if (kind.find('s', 1) != std::string_view::npos) mode |= S_ISUID | S_ISGID;
    bool bad_crc = kind.find('c', 1) != std::string_view::npos;

    std::uint32_t external = dos ? (S_ISDIR(mode) ? 0x10u : 0x20u) : (mode << 16);
    std::uint32_t crc = crc32(content) ^ (bad_crc ? 1u : 0u);
    entries.push_back({name, content, crc, external, 0, dos});
  }

  std::string zip;
  for (auto& e : entries) {
    e.offset = static_cast<std::uint32_t>(zip.size());
    put32(zip, 0x04034b50);
    put16(zip, 20);  // version needed
    put16(zip, 0);   // flags
    put16(zip, 0);   // stored
    put16(zip, 0);   // time
    put16(zip, 0x21);  // date: 1980-01-01
    put32(zip, e.crc);
    put32(zip, static_cast<std::uint32_t>(e.content.size()));
    put32(zip, static_cast<std::uint32_t>(e.content.size()));
    put16(zip, static_cast<std::uint32_t>(e.name.size()));
    put16(zip, 0);  // extra length
    zip += e.name;
    zip += e.content;
  }
  auto cd_offset = static_cast<std::uint32_t>(zip.size());
  for (const auto& e : entries) {
    put32(zip, 0x02014b50);
    put16(zip, (e.dos ? 0u : 3u) << 8 | 20);  // made by: MS-DOS or unix, zip 2.0
    put16(zip, 20);
    put16(zip, 0);
    put16(zip, 0);
    put16(zip, 0);
    put16(zip, 0x21);
    put32(zip, e.crc);
    put32(zip, static_cast<std::uint32_t>(e.content.size()));
    put32(zip, static_cast<std::uint32_t>(e.content.size()));
    put16(zip, static_cast<std::uint32_t>(e.name.size()));
    put16(zip, 0);  // extra
    put16(zip, 0);  // comment
    put16(zip, 0);  // disk
    put16(zip, 0);  // internal attributes
    put32(zip, e.external);
    put32(zip, e.offset);
    zip += e.name;
  }
  auto cd_size = static_cast<std::uint32_t>(zip.size()) - cd_offset;
  put32(zip, 0x06054b50);
  put16(zip, 0);
  put16(zip, 0);
  put16(zip, static_cast<std::uint32_t>(entries.size()));
  put16(zip, static_cast<std::uint32_t>(entries.size()));
  put32(zip, cd_size);
  put32(zip, cd_offset);
  put16(zip, 0);
  return zip;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::string tmpl = (fs::temp_directory_path() / "stratus-fuzz-zip-XXXXXX").string();
  FUZZ_CHECK(::mkdtemp(tmpl.data()) != nullptr);
  g_sandbox = fs::canonical(tmpl) / "sandbox";
  fs::create_directory(g_sandbox);
  std::atexit(remove_sandbox);
  g_verbose = std::getenv("STRATUS_FUZZ_VERBOSE") != nullptr;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const fs::path root = g_sandbox / "code";

  // Entry names are checked on their own too.
  if (size > 0 && size < 256 && se::is_safe_entry_name(input)) {
    FUZZ_CHECK(input.front() != '/');
    FUZZ_CHECK(fs::path(std::string(input)).lexically_normal().begin()->string() != "..");
  }

  std::string built;
  std::string_view zip = input;
  if (input.substr(0, 2) != "PK") {
    built = build_zip(input);
    zip = built;
  }

  try {
    se::ZipExtraction result = se::extract_zip(zip, root, kMaxBytes);
    if (g_verbose) {
      std::fprintf(stderr, "extracted %zu files, %llu bytes\n", result.files,
                   static_cast<unsigned long long>(result.unzipped_bytes));
    }
    check_tree(root, result);
  } catch (const se::ZipError& e) {
    if (g_verbose) std::fprintf(stderr, "ZipError: %s\n", e.what());
    std::error_code ec;
    FUZZ_CHECK_MSG(!fs::exists(fs::symlink_status(root, ec)), "ZipError left '%s' behind",
                   root.c_str());
  }
  std::error_code ec;
  fs::remove_all(root, ec);
  FUZZ_CHECK(!ec);
  return 0;
}
