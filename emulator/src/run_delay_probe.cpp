#include "stratus/emulator/run_delay_probe.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <string>

namespace stratus::emulator {

namespace {

// schedstat is "<on-cpu ns> <run-delay ns> <timeslices>": the second field.
std::optional<unsigned long long> second_field(const char* text, std::size_t size) {
  const char* end = text + size;
  const char* space = std::find(text, end, ' ');
  if (space == text || space == end) return std::nullopt;
  unsigned long long delay = 0;
  auto [ptr, ec] = std::from_chars(space + 1, end, delay);
  if (ec != std::errc() || ptr == space + 1) return std::nullopt;
  return delay;
}

}  // namespace

RunDelayProbe::~RunDelayProbe() {
  close();
}

void RunDelayProbe::close() {
  for (int fd : threads_) ::close(fd);
  threads_.clear();
  if (task_dir_fd_ >= 0) ::close(task_dir_fd_);
  task_dir_fd_ = -1;
  listed_threads_ = 0;
  pid_ = 0;
}

long RunDelayProbe::thread_count() const {
  struct stat st {};
  if (::fstat(task_dir_fd_, &st) != 0) return -1;
  return static_cast<long>(st.st_nlink) - 2;
}

bool RunDelayProbe::relist(pid_t pid) {
  close();
  const std::string task_dir = "/proc/" + std::to_string(pid) + "/task";
  task_dir_fd_ = ::open(task_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (task_dir_fd_ < 0) return false;
  pid_ = pid;
  // The count before the listing: a thread created while listing makes the next reading relist.
  listed_threads_ = thread_count();
  // fdopendir takes over the descriptor it is given, so it gets a duplicate.
  int dup = ::fcntl(task_dir_fd_, F_DUPFD_CLOEXEC, 0);
  DIR* dir = dup >= 0 ? ::fdopendir(dup) : nullptr;
  if (!dir) {
    if (dup >= 0) ::close(dup);
    close();
    return false;
  }
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    const std::string file = std::string(entry->d_name) + "/schedstat";
    int fd = ::openat(task_dir_fd_, file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) threads_.push_back(fd);  // else the thread exited meanwhile
  }
  ::closedir(dir);
  return true;
}

std::size_t RunDelayProbe::sum(double& total_ns) const {
  total_ns = 0;
  std::size_t read = 0;
  for (int fd : threads_) {
    char buf[128];
    ssize_t n = ::pread(fd, buf, sizeof buf, 0);
    if (n <= 0) continue;  // the thread exited: its file reads ESRCH
    auto delay = second_field(buf, static_cast<std::size_t>(n));
    if (!delay) continue;
    total_ns += static_cast<double>(*delay);
    ++read;
  }
  return read;
}

std::optional<double> RunDelayProbe::read(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  const bool stale = pid != pid_ || task_dir_fd_ < 0 || thread_count() != listed_threads_;
  double total_ns = 0;
  if (!stale && !threads_.empty() && sum(total_ns) == threads_.size()) return total_ns / 1e6;
  // A fresh listing, read as a one-off listing would be: a thread that exits between the listing
  // and its read is left out.
  if (!relist(pid) || sum(total_ns) == 0) return std::nullopt;
  return total_ns / 1e6;
}

}  // namespace stratus::emulator
