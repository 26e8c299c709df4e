#include "process_allocator.h"

#include <mimalloc.h>

namespace process_allocator {

void ConfigureAllocator() {
  mi_option_enable(mi_option_large_os_pages);
  mi_option_set(mi_option_eager_commit_delay, 0);
}

std::string AllocatorName() {
  std::string name = "mimalloc " + std::to_string(mi_version());
  if (mi_option_is_enabled(mi_option_large_os_pages)) name += "+thp";
  return name;
}

}  // namespace process_allocator
