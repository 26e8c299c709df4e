#include "small_filesystem.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

extern char** environ;

namespace broker::integration {
namespace {

// Runs a program found on PATH with its output discarded; returns its exit status (-1: did not
// run or was killed).
int Run(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const int spawned = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Writes `data` to `fd` until a write fails; returns the bytes written.
size_t WriteUntilFull(int fd, const std::string& data) {
  size_t written = 0;
  while (true) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n <= 0) return written;
    written += static_cast<size_t>(n);
    if (static_cast<size_t>(n) < data.size()) return written;
  }
}

}  // namespace

std::unique_ptr<SmallFilesystem> SmallFilesystem::Mount(const std::filesystem::path& dir,
                                                        size_t mib, std::string* why) {
  if (::geteuid() != 0) {
    *why =
        "mounting a filesystem needs root; this process runs as uid " + std::to_string(::geteuid());
    return nullptr;
  }
  std::unique_ptr<SmallFilesystem> fs(new SmallFilesystem());
  fs->root_ = dir / "mnt";
  std::filesystem::create_directories(fs->root_);

  // ext4 on a loop device: a sparse image, no blocks reserved for root (the test runs as root and
  // must see the same full disk brokerd does).
  const std::filesystem::path image = dir / "fs.img";
  const int fd = ::open(image.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
  if (fd >= 0) {
    const bool sized = ::ftruncate(fd, static_cast<off_t>(mib) << 20) == 0;
    ::close(fd);
    if (sized && Run({"mkfs.ext4", "-q", "-F", "-m", "0", image.string()}) == 0 &&
        Run({"mount", "-t", "ext4", "-o", "loop", image.string(), fs->root_.string()}) == 0) {
      fs->image_ = image;
      fs->kind_ = "ext4 (loop device)";
      return fs;
    }
    std::filesystem::remove(image);
  }
  const std::string options = "size=" + std::to_string(mib) + "m";
  if (::mount("tmpfs", fs->root_.c_str(), "tmpfs", 0, options.c_str()) == 0) {
    fs->kind_ = "tmpfs";
    return fs;
  }
  *why = "neither ext4 on a loop device (mkfs.ext4, mount -o loop) nor tmpfs could be mounted: " +
         std::string(std::strerror(errno));
  return nullptr;
}

SmallFilesystem::~SmallFilesystem() {
  if (::umount2(root_.c_str(), 0) != 0) ::umount2(root_.c_str(), MNT_DETACH);
  std::error_code ec;
  if (!image_.empty()) std::filesystem::remove(image_, ec);
}

size_t SmallFilesystem::Fill() {
  const std::filesystem::path path = root_ / ("ballast-" + std::to_string(ballast_index_++));
  const int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return 0;
  size_t written = 0;
  for (size_t chunk = 1 << 20; chunk >= 4096; chunk /= 4) {
    written += WriteUntilFull(fd, std::string(chunk, 'b'));
  }
  ::fsync(fd);
  ::close(fd);
  return written;
}

void SmallFilesystem::Free() {
  for (int i = 0; i < ballast_index_; ++i) {
    std::error_code ec;
    std::filesystem::remove(root_ / ("ballast-" + std::to_string(i)), ec);
  }
  const int fd = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::syncfs(fd);
    ::close(fd);
  }
}

size_t SmallFilesystem::Available() const {
  struct statvfs st {};
  if (::statvfs(root_.c_str(), &st) != 0) return 0;
  return static_cast<size_t>(st.f_bavail) * st.f_frsize;
}

}  // namespace broker::integration
