#!/usr/bin/env bash
# credsift scan of a PST against readpst -r converting the same PST to mbox (what a responder
# would do first without PST support), in the same run, best of N each, alternating.
# Usage: bench/pst_vs_readpst.sh CREDSIFT PST [runs]
# Without a PST argument: the enron.pst of tests/pst/fetch (fetched into build/test-data/pst).
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
for i in $(seq "$runs"); do
  { time "$credsift" scan -q -j 1 -o /dev/null "$pst" >/dev/null 2>&1 || true; } 2>>"$work/credsift.times"
  rm -rf "$work/out" && mkdir "$work/out"
  { time readpst -q -r -j 0 -o "$work/out" "$pst" >/dev/null 2>&1; } 2>>"$work/readpst.times"
done
read -r c_wall c_user c_sys < <(best "$work/credsift.times")
read -r r_wall r_user r_sys < <(best "$work/readpst.times")
size=$(stat -c %s "$pst")
awk -v cw="$c_wall" -v cc="$(echo "$c_user + $c_sys" | bc -l)" -v rw="$r_wall" \
    -v rc="$(echo "$r_user + $r_sys" | bc -l)" -v s="$size" 'BEGIN {
  printf "PST %.1f MB, best of the runs:\n", s / 1e6
  printf "  credsift scan -j 1: %.3f s wall (%.1f MB/s), %.3f s CPU\n", cw, s / 1e6 / cw, cc
  printf "  readpst -r:         %.3f s wall (%.1f MB/s), %.3f s CPU\n", rw, s / 1e6 / rw, rc
  printf "  credsift speed / readpst speed: %.2f wall, %.2f CPU\n", rw / cw, rc / cc }'
