#!/usr/bin/env bash
# scan --store against a scan to JSON lines, in the same run: the samples and a generated
# archive, runs alternated, median wall and median CPU (user + sys) of RUNS each; then the
# synthetic store figures (merge of 100 x 10,000 tickets, tickets view on 1M findings).
# BASELINE=OTHER_BUILD_DIR alternates the same pair of runs with another build's credsift
# (before/after figures from one session).
# Usage: bench/store_figures.sh BUILD_DIR [SIZE (default 100M)] [RUNS (default 5)]
set -euo pipefail
build=$(realpath "$1")
size=${2:-100M}
runs=${3:-5}
baseline=${BASELINE:+$(realpath "$BASELINE")}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/credsift-store-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
"$build/corpora/generator/credsift-gen" --output "$work/generated.mbox" --size "$size" --seed 3 >/dev/null

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# Prints "WALL CPU" in seconds of one run (exit 1, findings, is a success here). Bash's own
# `time` (getrusage, milliseconds): GNU time's 10 ms steps are a tenth of a samples run.
time_run() {
  local status=0 TIMEFORMAT='%3R %3U %3S'
  { time "$@" >/dev/null 2>"$work/err" || status=$?; } 2>"$work/time"
  if [ "$status" -gt 1 ]; then
    cat "$work/err" >&2
    return 1
  fi
  tail -n 1 "$work/time" | awk '{printf "%s %.3f\n", $1, $2 + $3}'
}
# One series: "LABEL WALL CPU" per run into $work/series.
pair() {
  local bin=$1 label=$2 input=$3
  echo "$label-jsonl $(time_run "$bin" scan "$input" -q -j 2 --output "jsonl=$work/out.jsonl")" >>"$work/series"
  rm -f "$work/case.db"*
  echo "$label-store $(time_run "$bin" scan "$input" -q -j 2 --output "jsonl=$work/out.jsonl" --store "$work/case.db")" >>"$work/series"
}
stat_of() { awk -v l="$1" -v c="$2" '$1 == l {print $c}' "$work/series" | median; }
for input in "$here/corpora/samples" "$work/generated.mbox"; do
  : >"$work/series"
  for ((i = 0; i < runs; i++)); do
    pair "$build/credsift" this "$input"
    [ -z "$baseline" ] || pair "$baseline/credsift" baseline "$input"
  done
  for label in this ${baseline:+baseline}; do
    aw=$(stat_of "$label-jsonl" 2) bw=$(stat_of "$label-store" 2)
    ac=$(stat_of "$label-jsonl" 3) bc=$(stat_of "$label-store" 3)
    printf '%s (%s build): scan to JSONL %.3f s wall %.3f s CPU, scan --store %.3f s wall %.3f s CPU, ratio %.3f wall %.3f CPU\n' \
      "$(basename "$input")" "$label" "$aw" "$ac" "$bw" "$bc" "$(echo "$bw / $aw" | bc -l)" "$(echo "$bc / $ac" | bc -l)"
  done
done
# STORE_FIGURES=0 skips the synthetic stores (several minutes).
[ "${STORE_FIGURES:-1}" = 0 ] || "$build/bench/store_figures" "$work/figures"
