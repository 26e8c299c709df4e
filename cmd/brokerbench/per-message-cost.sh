#!/usr/bin/env bash
# Instructions and heap allocations per published message, by thread, from two callgrind runs of
# the embedded W1 command: (count at N2 - count at N1) / (N2 - N1), so start-up cancels out. Both
# are deterministic (unlike wall-clock or CPU time on a shared machine), but see neither page
# faults nor wake-ups: measure those with run-w1-ab.sh. Allocations are calls to operator new,
# malloc and their kin (mimalloc's included) in the profile.
#
# usage: cmd/brokerbench/per-message-cost.sh BROKERBENCH [N1 N2 [extra publish flags...]]
#   e.g. cmd/brokerbench/per-message-cost.sh build/ci/cmd/brokerbench/brokerbench 20000 60000
# output: one line per thread kind (writer, producer, main, other) and one for all threads
# needs: valgrind, python3
set -eu
BENCH=$1
N1=${2:-20000}
N2=${3:-60000}
shift $(($# < 3 ? $# : 3))
DIR=$(mktemp -d /tmp/per-message-cost.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
for n in "$N1" "$N2"; do
  valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$DIR/cg-$n.%p" \
    "$BENCH" publish --durability sync --window 1000 --batch 1 -n "$n" --payload 128 \
    --data-dir "$DIR/data-$n" --json "$@" > "$DIR/out-$n.json" 2> "$DIR/err-$n"
  rm -rf "$DIR/data-$n"
done
python3 - "$DIR" "$N1" "$N2" <<'PY'
import glob, re, sys
ALLOC = re.compile(r'^(operator new(\[\])?\(unsigned long.*\)|malloc|calloc|realloc|'
                   r'posix_memalign|aligned_alloc|mi_malloc|mi_new.*|mi_calloc|mi_realloc)$')

def thread_costs(path):
    """(instructions, allocation calls, kind) of one callgrind file (one thread)."""
    names, total, allocs, kind, callee = {}, 0, 0, None, None
    with open(path, errors='replace') as f:
        for line in f:
            if line.startswith(('fn=', 'cfn=')):
                m = re.match(r'c?fn=\((\d+)\)(?: (.*))?', line.rstrip('\n'))
                if m.group(2) is not None:
                    names[m.group(1)] = m.group(2)
                name = names.get(m.group(1), '')
                if line.startswith('cfn='):
                    callee = name
                else:
                    callee = None
                    if name == 'broker::storage::LogWriter::Run()' and not path.endswith('-01'):
                        kind = 'writer'
                    if 'PayloadSource::Next' in name:
                        kind = 'producer'
            elif line.startswith('calls=') and callee is not None and ALLOC.match(callee):
                allocs += int(line.split()[0][6:])
            elif line.startswith('summary:'):
                total = int(line.split()[1])
    if kind is None:
        kind = 'main' if path.endswith('-01') else 'other'
    return total, allocs, kind

def by_kind(n):
    out = {}
    for path in glob.glob(f'{sys.argv[1]}/cg-{n}.*-*'):
        t, a, k = thread_costs(path)
        T, A = out.get(k, (0, 0))
        out[k] = (T + t, A + a)
    return out

n1, n2 = int(sys.argv[2]), int(sys.argv[3])
a, b = by_kind(n1), by_kind(n2)
all_i = all_a = 0.0
for k in sorted(set(a) | set(b)):
    di = (b.get(k, (0, 0))[0] - a.get(k, (0, 0))[0]) / (n2 - n1)
    da = (b.get(k, (0, 0))[1] - a.get(k, (0, 0))[1]) / (n2 - n1)
    all_i += di
    all_a += da
    print(f'{k:9s} instructions/msg {di:8.0f}  allocations/msg {da:6.3f}')
print(f'{"all":9s} instructions/msg {all_i:8.0f}  allocations/msg {all_a:6.3f}')
PY
