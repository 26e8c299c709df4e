// SmallFilesystem: a real, size-limited filesystem for full-disk tests. Mounts a small ext4 image
// through a loop device (the filesystem brokerd normally runs on), or a tmpfs with size= where loop
// devices are not available, and fills it with a ballast file on demand. Needs root (mount(8),
// mount(2)); Mount() says why it could not, so a test can skip.
//
// Thread safety: none; one test thread uses it.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

namespace broker::integration {

class SmallFilesystem {
 public:
  // Mounts a filesystem of `mib` MiB at `dir`/mnt (the image, if any, goes in `dir`). Returns null
  // with `why` set if neither ext4 on a loop device nor tmpfs could be mounted.
  static std::unique_ptr<SmallFilesystem> Mount(const std::filesystem::path& dir, size_t mib,
                                                std::string* why);
  ~SmallFilesystem();  // unmounts (lazily if still busy) and deletes the image
  SmallFilesystem(const SmallFilesystem&) = delete;
  SmallFilesystem& operator=(const SmallFilesystem&) = delete;

  const std::filesystem::path& root() const { return root_; }
  // "ext4 (loop device)" or "tmpfs".
  const std::string& kind() const { return kind_; }

  // Appends to a ballast file in root() until the filesystem refuses a write (ENOSPC), down to
  // 4 KiB writes, and syncs it. Returns the bytes written by this call.
  size_t Fill();
  // Deletes the ballast and syncs the filesystem, so that its blocks are free again (ext4 frees
  // a deleted file's blocks when its journal transaction commits).
  void Free();
  // Free bytes as statvfs(3) reports them to an unprivileged writer.
  size_t Available() const;

 private:
  SmallFilesystem() = default;
  std::filesystem::path root_;
  std::filesystem::path image_;
  std::string kind_;
  int ballast_index_ = 0;
};

}  // namespace broker::integration
