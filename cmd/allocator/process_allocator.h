// The memory allocator of brokerd and brokerbench: both link mimalloc (libmimalloc-dev), which
// replaces malloc/free for the whole process. The broker library itself links no allocator: a
// service that embeds it keeps its own (docs/operations.md, "Memory allocator").
//
// Why (BENCHMARKS.md, issue 20): with glibc's allocator a publisher's messages, freed on the
// engine's writer thread, contended on the publisher's arena lock; and every byte RocksDB's
// memtable stores is first written into fresh arena memory, which on this VM costs a page fault
// (microseconds) per 4 KiB page touched unless that memory is on 2 MiB transparent huge pages.
//
// Thread safety: ConfigureAllocator once, first thing in main; AllocatorName from any thread.
#pragma once

#include <string>

namespace process_allocator {

// Asks mimalloc for transparent huge pages on every segment, the first ones of each thread
// included (mi_option_large_os_pages, mi_option_eager_commit_delay = 0). Needs THP in "madvise"
// or "always" mode (/sys/kernel/mm/transparent_hugepage/enabled); otherwise the kernel keeps 4 KiB
// pages. Memory mimalloc set up before main stays as it was: MIMALLOC_LARGE_OS_PAGES=1 in the
// environment covers that too (W1: 0.006 instead of 0.023 page faults per message). Either
// option set in the environment (MIMALLOC_LARGE_OS_PAGES=0: no huge pages, about 10 MiB less
// resident memory for an idle brokerd) is left as the operator set it.
void ConfigureAllocator();

// "mimalloc <version>" (mimalloc's own mi_version()), "+thp" once huge pages are asked for;
// "sanitizer" in a sanitizer build, which keeps the sanitizer's allocator.
std::string AllocatorName();

}  // namespace process_allocator
