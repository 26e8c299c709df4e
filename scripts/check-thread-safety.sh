#!/bin/sh
# Clang's thread-safety analysis over the annotated code (broker/delivery: Group's members are
# BROKER_GUARDED_BY(mu_), its helpers BROKER_REQUIRES(mu_); see broker/delivery/thread_annotations.h).
# gcc has no such analysis, so the annotations are empty there; this builds the delivery target
# with clang-14, -Wthread-safety and -Werror: a guarded member touched without its mutex, or a
# helper called without it, fails the build naming the line.
#
# Usage: scripts/check-thread-safety.sh   (from the repository root; build dir build/thread-safety)
set -eu
cd "$(dirname "$0")/.."
cmake --preset thread-safety >/dev/null
cmake --build --preset thread-safety -j "${JOBS:-2}"
echo "thread-safety: broker_delivery builds clean under clang-14 -Wthread-safety -Werror"
