// FUZZ_CHECK(cond): a property every fuzz target asserts. A violation prints where and aborts, so
// libFuzzer keeps the input as a crash artifact, like a sanitizer report would.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (false)
