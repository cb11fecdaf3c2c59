#!/bin/sh
# Header redaction cost (issue 17): one message whose 4 MB Subject holds N distinct tokens, which
# the body repeats, so that every finding's and every ticket's Subject must be redacted. Before
# redact_header each of them searched and copied the whole Subject (header size x findings);
# now only the shown, capped prefix is searched. Prints wall and CPU seconds of `credsift scan`
# writing findings, tickets JSON and the HTML report, for each binary given (fastest of 3,
# alternating). usage: bench/redaction_figures.sh CREDSIFT [OTHER_CREDSIFT ...]  (N=300)
set -eu
N=${N:-300}
work=$(mktemp -d /tmp/credsift-redaction-XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
python3 - "$work/one.mbox" "$N" <<'PY'
import random, string, sys
path, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(17)
alphabet = string.ascii_letters + string.digits
tokens = ["ghp_" + "".join(rng.choice(alphabet) for _ in range(36)) for _ in range(n)]
filler = "lorem ipsum dolor sit amet " * ((4 << 20) // 27 // n)
subject = " ".join(filler + t for t in tokens)
with open(path, "w") as out:
    out.write("From a@corp.example Mon Jan  1 10:00:00 2024\n")
    out.write("From: a@corp.example\nTo: b@partner.example\n")
    out.write("Subject: " + subject + "\n")
    out.write("Date: Mon, 01 Jan 2024 10:00:00 +0000\nMessage-ID: <big@corp.example>\n\n")
    out.write("\n".join("token " + t for t in tokens) + "\n")
PY
echo "message: $(wc -c <"$work/one.mbox") bytes, $N tokens"
for round in 1 2 3; do
  for binary in "$@"; do
    /usr/bin/time -f "$binary round $round: %e s wall, %U+%S s CPU, %M KB peak" \
      "$binary" scan --quiet "$work/one.mbox" --output "findings=$work/f.jsonl" \
      --output "json=$work/t.json" --output "html=$work/r.html" || true
  done
done
echo "findings written: $(wc -l <"$work/f.jsonl")"
