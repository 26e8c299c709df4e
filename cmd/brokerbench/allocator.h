// The memory allocator brokerbench runs with, reported with every result. brokerbench links
// mimalloc (libmimalloc-dev), which replaces malloc/free for the whole process: with glibc's
// allocator the producer's messages, freed on the engine's writer thread, contended on the
// producer's arena lock (BENCHMARKS.md, issue 20). The broker library itself links no allocator:
// a service that embeds it keeps its own.
#pragma once

#include <string>

namespace brokerbench {

// "mimalloc <version>" (mimalloc's own mi_version()).
std::string AllocatorName();

}  // namespace brokerbench
