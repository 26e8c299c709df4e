#!/bin/sh
# brokerbench without --data-dir runs its broker in a directory of its own under $TMPDIR, which is
# gone when it exits: nothing lands in the working directory (where brokerd's ./broker-data may
# be) nor stays in $TMPDIR. Usage: leaves_no_data_behind.sh BROKERBENCH
set -eu
bench=$(realpath "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/tmp" "$work/cwd"
cd "$work/cwd"
TMPDIR="$work/tmp" "$bench" publish -n 200 --payload 16 --json > "$work/out.json"
if ! grep -q "\"data_dir\": *\"$work/tmp/brokerbench-" "$work/out.json"; then
  echo "the report does not name the run's own directory:"; cat "$work/out.json"; exit 1
fi
if [ -n "$(ls -A "$work/tmp")" ]; then
  echo "left behind in TMPDIR:"; ls -la "$work/tmp"; exit 1
fi
if [ -n "$(ls -A "$work/cwd")" ]; then
  echo "left behind in the working directory:"; ls -la "$work/cwd"; exit 1
fi
echo "brokerbench left nothing behind"
