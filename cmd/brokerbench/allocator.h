// The memory allocator brokerbench runs with, reported with every result. brokerbench links
// mimalloc (libmimalloc-dev), which replaces malloc/free for the whole process: with glibc's
// allocator the producer's messages, freed on the engine's writer thread, contended on the
// producer's arena lock (BENCHMARKS.md, issue 20). The broker library itself links no allocator:
// a service that embeds it keeps its own.
#pragma once

#include <string>

namespace brokerbench {

// Call first in main, before any thread starts. Asks mimalloc for transparent huge pages (2 MiB)
// on every segment, the first ones of each thread included (mi_option_large_os_pages,
// mi_option_eager_commit_delay = 0). Every byte RocksDB's memtable stores is first written into
// fresh arena memory, and on this VM each first touch of a 4 KiB page is a page fault costing
// microseconds: with 4 KiB pages that was 0.04 faults and about 0.2 µs of CPU per published
// 128-byte message (BENCHMARKS.md, issue 20). Needs THP in "madvise" or "always" mode
// (/sys/kernel/mm/transparent_hugepage/enabled); otherwise the kernel keeps 4 KiB pages.
void ConfigureAllocator();

// "mimalloc <version>" (mimalloc's own mi_version()), and "+thp" once ConfigureAllocator ran.
std::string AllocatorName();

}  // namespace brokerbench
