// Clang thread-safety annotations (https://clang.llvm.org/docs/ThreadSafetyAnalysis.html): which
// mutex guards a member, which functions need it held. Checked by a clang build with
// -Wthread-safety (scripts/check-thread-safety.sh, the `thread-safety` preset); empty under gcc,
// which has no such analysis. Prefixed, so they never collide with a dependency's macros.
#pragma once

#if defined(__clang__)
#define BROKER_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define BROKER_THREAD_ANNOTATION(x)
#endif

#define BROKER_CAPABILITY(x) BROKER_THREAD_ANNOTATION(capability(x))
#define BROKER_SCOPED_CAPABILITY BROKER_THREAD_ANNOTATION(scoped_lockable)
#define BROKER_GUARDED_BY(x) BROKER_THREAD_ANNOTATION(guarded_by(x))
#define BROKER_REQUIRES(...) BROKER_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define BROKER_EXCLUDES(...) BROKER_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define BROKER_ACQUIRE(...) BROKER_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define BROKER_RELEASE(...) BROKER_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
