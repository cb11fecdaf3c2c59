#!/usr/bin/env bash
# e2e test of the benchmark generator: the same seed gives the same bytes (mbox, gzip, Maildir),
# another seed gives other bytes, and credsift finds what the labels say with the scorer's
# help: recall at least 0.95 overall and no encoding missed entirely.
# Usage: generator_test.sh CREDSIFT_GEN CREDSIFT SOURCE_DIR
set -euo pipefail
generate="$1" credsift="$2" source="$3"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
rules="$source/patterns"

"$generate" --rules "$rules" -s 4M --seed 7 --secret-rate 0.5 -o "$work/a.mbox" 2> /dev/null
"$generate" --rules "$rules" -s 4M --seed 7 --secret-rate 0.5 -o "$work/b.mbox" 2> /dev/null
"$generate" --rules "$rules" -s 4M --seed 8 --secret-rate 0.5 -o "$work/c.mbox" 2> /dev/null
cmp -s "$work/a.mbox" "$work/b.mbox" || { echo "same seed, different archives"; exit 1; }
cmp -s "$work/a.mbox.labels.tsv" "$work/b.mbox.labels.tsv" || { echo "same seed, different labels"; exit 1; }
if cmp -s "$work/a.mbox" "$work/c.mbox"; then echo "different seeds, same archive"; exit 1; fi
size=$(stat -c %s "$work/a.mbox")
[ "$size" -ge 4000000 ] || { echo "archive of $size bytes is smaller than asked"; exit 1; }

"$generate" --rules "$rules" -s 4M --seed 7 --secret-rate 0.5 -f gzip -o "$work/a.mbox.gz" 2> /dev/null
[ "$(gzip -dc "$work/a.mbox.gz" | sha256sum)" = "$(sha256sum < "$work/a.mbox")" ] ||
  { echo "gzip archive differs from the mbox of the same seed"; exit 1; }
"$generate" --rules "$rules" -s 4M --seed 7 --secret-rate 0.5 -f maildir -o "$work/maildir" 2> /dev/null
[ "$(ls "$work/maildir/cur" | wc -l)" -gt 10 ] || { echo "Maildir has too few messages"; exit 1; }

"$credsift" scan --no-default-rules --rules "$rules" --ruleset all --quiet --threads 2 \
  --output "$work/findings" "$work/a.mbox" || [ $? -eq 1 ]
python3 "$source/corpora/generator/score.py" --labels "$work/a.mbox.labels.tsv" \
  --findings "$work/findings" --json > "$work/score.json"
python3 - "$work/score.json" <<'PY'
import json, sys
score = json.load(open(sys.argv[1]))
print(f"recall {score['recall']:.3f} precision {score['precision']:.3f} of {score['labels']} labels")
assert score["labels"] >= 50, "too few planted secrets"
assert score["recall"] >= 0.95, "recall below 0.95"
missed = [name for name, row in score["by_encoding"].items() if row["found"] == 0]
assert not missed, f"encodings with nothing found: {missed}"
assert len(score["by_encoding"]) == 9, f"not every encoding planted: {sorted(score['by_encoding'])}"
PY
