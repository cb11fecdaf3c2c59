#!/usr/bin/env bash
# scan --store against a scan to JSON lines, in the same run: the samples and a generated
# archive, runs alternated, median of RUNS each; then the synthetic store figures (merge of
# 100 x 10,000 tickets, tickets view on 1M findings).
# Usage: bench/store_figures.sh BUILD_DIR [SIZE (default 100M)] [RUNS (default 5)]
set -euo pipefail
build=$(realpath "$1")
size=${2:-100M}
runs=${3:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/credsift-store-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
"$build/corpora/generator/credsift-gen" --output "$work/generated.mbox" --size "$size" --seed 3 >/dev/null

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_run() {
  local start=$EPOCHREALTIME status=0
  "$@" >/dev/null 2>"$work/err" || status=$?
  if [ "$status" -gt 1 ]; then
    cat "$work/err" >&2
    return 1
  fi
  echo "$EPOCHREALTIME - $start" | bc -l
}
for input in "$here/corpora/samples" "$work/generated.mbox"; do
  jsonl=() store=()
  for ((i = 0; i < runs; i++)); do
    jsonl+=("$(time_run "$build/credsift" scan "$input" -q -j 2 --output "jsonl=$work/out.jsonl")")
    rm -f "$work/case.db"*
    store+=("$(time_run "$build/credsift" scan "$input" -q -j 2 --output "jsonl=$work/out.jsonl" --store "$work/case.db")")
  done
  a=$(printf '%s\n' "${jsonl[@]}" | median)
  b=$(printf '%s\n' "${store[@]}" | median)
  printf '%s: scan to JSONL %.3f s, scan --store %.3f s, ratio %.3f\n' "$(basename "$input")" "$a" "$b" "$(echo "$b / $a" | bc -l)"
done
# STORE_FIGURES=0 skips the synthetic stores (several minutes).
[ "${STORE_FIGURES:-1}" = 0 ] || "$build/bench/store_figures" "$work/figures"
