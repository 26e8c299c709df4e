#include "process_allocator.h"

#include <cstdlib>

#ifdef BROKER_WITH_MIMALLOC
#include <mimalloc.h>
#endif

namespace process_allocator {

#ifdef BROKER_WITH_MIMALLOC

void ConfigureAllocator() {
  // mimalloc reads its MIMALLOC_* variables itself: one set by the operator wins over ours.
  if (std::getenv("MIMALLOC_LARGE_OS_PAGES") == nullptr) {
    mi_option_enable(mi_option_large_os_pages);
  }
  if (std::getenv("MIMALLOC_EAGER_COMMIT_DELAY") == nullptr) {
    mi_option_set(mi_option_eager_commit_delay, 0);
  }
}

std::string AllocatorName() {
  std::string name = "mimalloc " + std::to_string(mi_version());
  if (mi_option_is_enabled(mi_option_large_os_pages)) name += "+thp";
  return name;
}

#else  // a sanitizer build (cmd/allocator/CMakeLists.txt)

void ConfigureAllocator() {}

std::string AllocatorName() { return "sanitizer"; }

#endif

}  // namespace process_allocator
