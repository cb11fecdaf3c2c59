#!/usr/bin/env bash
# Gateway figures (not a test): latency of `credsift check` per message including process start,
# against `cat` of the same message as the process-start floor, and milter throughput through a
# private Postfix on loopback, against the same Postfix without the milter.
# Usage (as root, for Postfix): bench/gateway_figures.sh [CREDSIFT_BINARY] [MESSAGES] [SMTP_MESSAGES]
set -euo pipefail

source_dir=$(cd "$(dirname "$0")/.." && pwd)
binary=${1:-$source_dir/build/credsift}
count=${2:-1000}
smtp_count=${3:-400}
. "$source_dir/tests/gateway/postfix_lib.sh"

work=$(mktemp -d /tmp/credsift-gateway-bench-XXXXXX)
chmod 755 "$work"
milter_pid=""
postfix_started=0
cleanup() {
  if [ "$postfix_started" -eq 1 ]; then postfix -c "$work/etc" stop >/dev/null 2>&1 || true; fi
  if [ -n "$milter_pid" ]; then
    kill -TERM "$milter_pid" 2>/dev/null || true
    wait "$milter_pid" 2>/dev/null || true
  fi
  for _ in $(seq 50); do pgrep -f "master -c $work/etc" >/dev/null || break; sleep 0.1; done
  rm -rf "$work"
}
trap cleanup EXIT

# ---- 1,000 mixed messages: the sample .eml files and the sample mbox's messages, then variants
# of them (own Message-ID, an extra header, a line of text) until the count is reached.
mkdir -p "$work/messages"
python3 - "$source_dir/corpora/samples" "$work/messages" "$count" <<'EOF'
import pathlib, random, re, sys
samples, out, count = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), int(sys.argv[3])
base = [p.read_bytes() for p in sorted((samples / "eml").glob("*.eml"))]
for chunk in re.split(rb"(?m)^From .*\n", (samples / "inbox.mbox").read_bytes()):
    if chunk.strip():
        base.append(chunk)
random.seed(8)
words = b"meeting budget report travel deploy server invoice schedule lunch review".split()
for i in range(count):
    message = base[i % len(base)]
    if i >= len(base):
        head, sep, body = message.partition(b"\n\n")
        head = re.sub(rb"(?mi)^Message-ID:.*$", b"Message-ID: <variant-%d@bench.test>" % i, head)
        extra = b" ".join(random.choice(words) for _ in range(12))
        message = head + b"\nX-Bench-Variant: %d" % i + sep + extra + b"\n" + body
    (out / f"{i:05d}.eml").write_bytes(message)
EOF

# Warm the rule cache so that every timed call starts like a gateway call does.
"$binary" check "$work/messages/00000.eml" >/dev/null || true

echo "== credsift check: one process per message, $count messages"
python3 - "$binary" "$work/messages" <<'EOF'
import json, pathlib, statistics, subprocess, sys, time
binary, messages = sys.argv[1], sorted(pathlib.Path(sys.argv[2]).glob("*.eml"))
def run(command, path):
    with open(path, "rb") as stdin:
        started = time.perf_counter()
        done = subprocess.run(command, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        return (time.perf_counter() - started) * 1000, done
check, floor, inside, actions = [], [], [], {}
for path in messages:  # interleaved, so both see the same machine load
    ms, done = run([binary, "check"], path)
    if done.returncode not in (0, 1):
        sys.exit(f"check failed on {path}: exit {done.returncode}")
    verdict = json.loads(done.stdout)
    check.append(ms)
    inside.append(verdict["elapsed_ms"])
    actions[verdict["action"]] = actions.get(verdict["action"], 0) + 1
    floor.append(run(["cat"], path)[0])
def p(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]
for name, values in (("check (process)", check), ("cat (floor)", floor), ("check in-process scan", inside)):
    print(f"{name:24s} median {statistics.median(values):8.2f} ms   p99 {p(values, 0.99):8.2f} ms")
print(f"check / cat: median x{statistics.median(check) / statistics.median(floor):.1f}, "
      f"p99 x{p(check, 0.99) / p(floor, 0.99):.1f}")
print("verdicts:", ", ".join(f"{k} {v}" for k, v in sorted(actions.items())))
EOF

if [ "$(id -u)" -ne 0 ]; then
  echo "(milter throughput skipped: Postfix needs root)"
  exit 0
fi

# ---- Throughput through Postfix: smtp-source sends the mixed messages over 4 sessions, first
# with the milter, then with no milter on the same instance.
smtp_port=$(free_port)
milter_port=$(free_port)
"$binary" milter --socket "inet:$milter_port@127.0.0.1" </dev/null >"$work/milter.log" 2>&1 &
milter_pid=$!
wait_for_port "$milter_port" 180 || fail "milter did not start"
write_postfix_config "$work" "$smtp_port" "inet:127.0.0.1:$milter_port"
postfix -c "$work/etc" start >/dev/null 2>&1 || fail "postfix start"
postfix_started=1
wait_for_port "$smtp_port" 30 || fail "Postfix did not listen"

# smtp-source sends one file per run: the messages are cycled through in runs of 4 sessions.
throughput() {
  local files=("$work"/messages/*.eml) started ended sent=0 per_file=4
  started=$(date +%s.%N)
  for ((i = 0; sent < smtp_count; i++)); do
    smtp-source -s 4 -m "$per_file" -f sender@corp.test -t user@example.test \
      -F "${files[$((i % ${#files[@]}))]}" "127.0.0.1:$smtp_port" </dev/null >/dev/null 2>&1 ||
      fail "smtp-source"
    sent=$((sent + per_file))
  done
  ended=$(date +%s.%N)
  python3 -c "print(f'{$sent / ($ended - $started):.1f}')"
}
with_milter=$(throughput)
postconf -c "$work/etc" -e "smtpd_milters =" && postfix -c "$work/etc" reload >/dev/null 2>&1
sleep 2
without_milter=$(throughput)
echo "== Postfix on loopback, $smtp_count messages, 4 sessions"
echo "with credsift milter    $with_milter messages/s"
echo "without milter          $without_milter messages/s"
python3 -c "print(f'milter / no milter: x{$with_milter / $without_milter:.2f}')"
echo "milter verdicts: $(grep -oE ': (pass|tag|hold|reject): ' "$work/milter.log" | tr -d ': ' |
  sort | uniq -c | awk '{printf "%s %s  ", $2, $1}')"
