#!/usr/bin/env bash
# A real Slurm array over a generated archive: plan 8 shards, sbatch the 8-task array of
# contrib/slurm/credsift-shard.sbatch and the merge job with --dependency=afterok, and compare
# the merged case with a single-machine scan of the same inputs (tickets as JSON lines, and
# the messages, locations and findings tables). Needs root (the daemons run as root, in a
# temporary directory, no systemd); exit 77 (skipped) otherwise.
# Usage: slurm_array_test.sh CREDSIFT CREDSIFT_GEN SOURCE_DIR
set -uo pipefail
credsift=$(realpath "$1")
generator=$(realpath "$2")
source_dir=$(realpath "$3")

if [ "$(id -u)" -ne 0 ]; then
  echo "skipped: Slurm's daemons need root here"
  exit 77
fi
for tool in munged slurmctld slurmd sbatch sinfo scontrol python3; do
  command -v "$tool" >/dev/null || { echo "skipped: $tool not installed"; exit 77; }
done

. "$source_dir/tests/cluster/slurm_lib.sh"
work=$(mktemp -d /tmp/credsift-slurm-XXXXXX)
finish() {
  local status=$?
  slurm_stop
  if [ "$status" -ne 0 ] && [ "$status" -ne 77 ]; then
    echo "--- logs in $work (kept)"
    tail -n 20 "$work"/log/* "$work"/*.out 2>/dev/null
  else
    rm -rf "$work"
  fi
  exit "$status"
}
trap finish EXIT
fail() {
  echo "FAIL: $*"
  exit 1
}

# The archive: a generated mbox big enough to be cut into byte ranges, and the samples.
mkdir -p "$work/archive"
"$generator" --output "$work/archive/generated.mbox" --size 6M --seed 14 >/dev/null ||
  fail "credsift-gen"
cp -r "$source_dir/corpora/samples" "$work/archive/samples"

"$credsift" plan "$work/archive" --shards 8 --manifest "$work/plan.json" || fail "plan"
grep -q '"whole":false' "$work/plan.json" || fail "the plan cut no mbox into byte ranges"

slurm_start "$work" || fail "slurm did not start"

array=$(sbatch --parsable --array=0-7 --chdir="$work" --export="ALL,CREDSIFT=$credsift" \
  "$source_dir/contrib/slurm/credsift-shard.sbatch" "$work/plan.json" "$work/shards") ||
  fail "sbatch array"
merge=$(sbatch --parsable --dependency="afterok:$array" --chdir="$work" \
  --export="ALL,CREDSIFT=$credsift" "$source_dir/contrib/slurm/credsift-merge.sbatch" \
  "$work/plan.json" "$work/case.db" "$work/shards") || fail "sbatch merge"
echo "submitted array $array and merge $merge"

job_state() { scontrol show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | head -n 1 | cut -d= -f2; }
deadline=$((SECONDS + 600))
while :; do
  state=$(job_state "$merge")
  case "$state" in
    COMPLETED) break ;;
    FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY) fail "merge job $state" ;;
  esac
  [ $SECONDS -lt $deadline ] || fail "merge job not done in 600 s (state $state)"
  sleep 1
done
for task in 0 1 2 3 4 5 6 7; do
  [ "$(job_state "${array}_$task")" = COMPLETED ] || fail "array task $task: $(job_state "${array}_$task")"
  [ -f "$work/shards/$task.db" ] || fail "no store of shard $task"
done

# The same inputs on one machine.
"$credsift" scan "$work/archive" --store "$work/single.db" --quiet \
  --output "jsonl=$work/single.jsonl"
[ $? -le 1 ] || fail "single-machine scan"
"$credsift" tickets --store "$work/single.db" --format jsonl >"$work/single.tickets"
"$credsift" tickets --store "$work/case.db" --format jsonl >"$work/merged.tickets"
[ -s "$work/single.tickets" ] || fail "no tickets from the single scan"
cmp -s "$work/single.tickets" "$work/merged.tickets" ||
  fail "merged tickets differ: $(diff "$work/single.tickets" "$work/merged.tickets" | head -c 2000)"

python3 - "$work/single.db" "$work/case.db" <<'PY' || fail "merged store differs"
import sqlite3, sys
queries = {
    "messages": "SELECT key, size, message_id, state FROM messages ORDER BY key",
    "locations": "SELECT file, offset, location, message, idx FROM message_locations ORDER BY 1, 2, 3",
    "findings": "SELECT file, offset, location, part_path, line, rule_id, fingerprint, ticket, idx "
                "FROM findings ORDER BY 1, 2, 3, 4, 5, 6, 7",
    "tickets": "SELECT fingerprint, occurrences, messages, first_seen, last_seen FROM tickets ORDER BY 1",
}
single, merged = (sqlite3.connect(path) for path in sys.argv[1:3])
for name, sql in queries.items():
    a, b = single.execute(sql).fetchall(), merged.execute(sql).fetchall()
    if a != b:
        print(f"{name}: {len(a)} rows single, {len(b)} merged")
        sys.exit(1)
    print(f"{name}: {len(a)} rows, equal")
PY
echo "PASS: 8-task Slurm array merged = single-machine scan"
