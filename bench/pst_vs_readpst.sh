#!/usr/bin/env bash
# credsift scan of a PST against readpst -r converting the same PST to mbox (what a responder
# would do first without PST support), in the same run, best of N each, alternating.
# Usage: bench/pst_vs_readpst.sh CREDSIFT PST [runs]
# Without a PST argument: the enron.pst of tests/pst/fetch (fetched into build/test-data/pst).
# PST may also be a directory of PST files (readpst is then run on each). Also reported: credsift
# with 2 threads against 1 thread on the same input (alternating too).
set -euo pipefail
credsift=${1:?usage: bench/pst_vs_readpst.sh CREDSIFT [PST] [runs]}
here=$(cd "$(dirname "$0")/.." && pwd)
pst=${2:-}
if [ -z "$pst" ]; then
  "$here/tests/pst/fetch" "$here/build/test-data/pst"
  pst=$here/build/test-data/pst/enron.pst
fi
runs=${3:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Wall and CPU (user + system) seconds: on a shared machine the CPU figure is the steadier one.
TIMEFORMAT='%R %U %S'
best() { sort -n -k1 "$1" | head -1; }
convert() {
  if [ -d "$pst" ]; then
    for f in "$pst"/*.pst; do readpst -q -r -j 0 -o "$work/out" "$f" >/dev/null 2>&1; done
  else
    readpst -q -r -j 0 -o "$work/out" "$pst" >/dev/null 2>&1
  fi
}
for i in $(seq "$runs"); do
  { time "$credsift" scan -q -j 1 -o "$work/o1" "$pst" >/dev/null 2>&1 || true; } 2>>"$work/credsift.times"
  rm -rf "$work/out" && mkdir "$work/out"
  { time convert; } 2>>"$work/readpst.times"
  { time "$credsift" scan -q -j 2 -o "$work/o2" "$pst" >/dev/null 2>&1 || true; } 2>>"$work/credsift2.times"
done
read -r c_wall c_user c_sys < <(best "$work/credsift.times")
read -r r_wall r_user r_sys < <(best "$work/readpst.times")
read -r t_wall t_user t_sys < <(best "$work/credsift2.times")
size=$(du -sb "$pst" | cut -f1)
awk -v cw="$c_wall" -v cc="$(echo "$c_user + $c_sys" | bc -l)" -v rw="$r_wall" \
    -v rc="$(echo "$r_user + $r_sys" | bc -l)" -v tw="$t_wall" \
    -v tc="$(echo "$t_user + $t_sys" | bc -l)" -v s="$size" 'BEGIN {
  printf "PST %.1f MB, best of the runs:\n", s / 1e6
  printf "  credsift scan -j 1: %.3f s wall (%.1f MB/s), %.3f s CPU\n", cw, s / 1e6 / cw, cc
  printf "  readpst -r:         %.3f s wall (%.1f MB/s), %.3f s CPU\n", rw, s / 1e6 / rw, rc
  printf "  credsift scan -j 2: %.3f s wall (%.1f MB/s), %.3f s CPU\n", tw, s / 1e6 / tw, tc
  printf "  credsift speed / readpst speed: %.2f wall, %.2f CPU\n", rw / cw, rc / cc
  printf "  credsift 2 threads / 1 thread: %.2f wall\n", cw / tw }'
