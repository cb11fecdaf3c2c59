#!/usr/bin/env bash
# credsift scan of a PST against readpst -r converting the same PST to mbox (what a responder
# would do first without PST support), in the same run, alternating (credsift -j 1, readpst,
# credsift -j 2, then again), fastest of N each, wall and CPU (user + system) side by side.
# Also: credsift's fixed start (a scan of an empty mbox, same options), so that the figures can
# be read with and without it, and 2 threads against 1 on the same input.
# Usage: bench/pst_vs_readpst.sh CREDSIFT [PST] [runs]
# Without a PST argument: the enron.pst of tests/pst/fetch (fetched into build/test-data/pst).
# PST may also be a directory of PST files (readpst is then run on each, one after the other).
# Outputs (credsift's tickets, readpst's mbox tree) go to a temporary directory on tmpfs
# (/dev/shm when there is one), so that neither pays for a disk.
# On a shared machine the wall time of 2 threads says more about the other load than about
# credsift, so the 2-thread runs also count context switches (GNU time): voluntary ones are
# waits (a lock, a pipeline stage without work), involuntary ones preemption by other processes.
set -euo pipefail
credsift=${1:?usage: bench/pst_vs_readpst.sh CREDSIFT [PST] [runs]}
here=$(cd "$(dirname "$0")/.." && pwd)
pst=${2:-}
if [ -z "$pst" ]; then
  "$here/tests/pst/fetch" "$here/build/test-data/pst"
  pst=$here/build/test-data/pst/enron.pst
fi
runs=${3:-5}
tmp_root=/dev/shm
[ -d "$tmp_root" ] && [ -w "$tmp_root" ] || tmp_root=${TMPDIR:-/tmp}
work=$(mktemp -d "$tmp_root/pst_vs_readpst.XXXXXX")
trap 'rm -rf "$work"' EXIT
: >"$work/empty.mbox"
# Wall and CPU (user + system, children included) seconds: on a shared machine the CPU figure
# is the steadier one.
TIMEFORMAT='%R %U %S'
convert() {
  rm -rf "$work/out" && mkdir "$work/out"
  if [ -d "$pst" ]; then
    for f in "$pst"/*.pst; do readpst -q -r -j 0 -o "$work/out" "$f" >/dev/null 2>&1; done
  else
    readpst -q -r -j 0 -o "$work/out" "$pst" >/dev/null 2>&1
  fi
}
scan() {  # threads input times-file
  { time "$credsift" scan -q -j "$1" -o "$work/tickets.jsonl" "$2" >/dev/null 2>&1 || true; } \
    2>>"$3"
}
switches() {  # threads input switches-file: voluntary and involuntary context switches, CPU use
  [ -x /usr/bin/time ] || return 0
  /usr/bin/time -a -o "$3" -f '%w %c %P' "$credsift" scan -q -j "$1" -o "$work/tickets.jsonl" \
    "$2" >/dev/null 2>&1 || true
}
for i in $(seq "$runs"); do
  scan 1 "$pst" "$work/credsift1.times"
  { time convert; } 2>>"$work/readpst.times"
  scan 2 "$pst" "$work/credsift2.times"
  scan 1 "$work/empty.mbox" "$work/start.times"
done
switches 1 "$pst" "$work/switches1"
switches 2 "$pst" "$work/switches2"
# Fastest wall and fastest CPU of the runs, each on its own.
fastest() {
  awk '{ w = $1; c = $2 + $3; if (NR == 1 || w < bw) bw = w; if (NR == 1 || c < bc) bc = c }
       END { printf "%.3f %.3f\n", bw, bc }' "$1"
}
read -r c_wall c_cpu < <(fastest "$work/credsift1.times")
read -r r_wall r_cpu < <(fastest "$work/readpst.times")
read -r t_wall t_cpu < <(fastest "$work/credsift2.times")
read -r s_wall s_cpu < <(fastest "$work/start.times")
size=$(du -sbL "$pst" | cut -f1)
awk -v cw="$c_wall" -v cc="$c_cpu" -v rw="$r_wall" -v rc="$r_cpu" -v tw="$t_wall" \
    -v tc="$t_cpu" -v sw="$s_wall" -v sc="$s_cpu" -v s="$size" -v n="$runs" 'BEGIN {
  printf "PST input %.1f MB, fastest of %d alternating runs (wall s, CPU s):\n", s / 1e6, n
  printf "  credsift scan -j 1:       %8.3f wall %8.3f CPU  (%.1f MB/s wall)\n", cw, cc, s / 1e6 / cw
  printf "  readpst -r:               %8.3f wall %8.3f CPU  (%.1f MB/s wall)\n", rw, rc, s / 1e6 / rw
  printf "  credsift scan -j 2:       %8.3f wall %8.3f CPU\n", tw, tc
  printf "  credsift start (empty):   %8.3f wall %8.3f CPU\n", sw, sc
  printf "  credsift speed / readpst speed:  %.2f wall, %.2f CPU\n", rw / cw, rc / cc
  if (cw > sw && cc > sc)
    printf "    without the fixed start:       %.2f wall, %.2f CPU\n", rw / (cw - sw), rc / (cc - sc)
  printf "  credsift 2 threads / 1 thread:   %.2f wall (CPU %.2f of the 1-thread CPU)\n", cw / tw, tc / cc }'
for t in 1 2; do
  [ -s "$work/switches$t" ] &&
    awk -v t="$t" '{ printf "  credsift -j %s, one more run: %d voluntary context switches (waits), %d involuntary (preempted), %s of a CPU used\n", t, $1, $2, $3 }' "$work/switches$t"
done
exit 0