#!/usr/bin/env bash
# Gateway figures (not a test): latency of `credsift check` per message including process start
# (standalone, and as a client of `credsift serve`), of `credsift --version` and of a check of a
# message whose PDF needs the poppler plugin, against `cat` of the same message as the
# process-start floor, interleaved; and milter throughput through a private Postfix on loopback
# against the same Postfix without the milter, in alternating rounds (best of 3 each).
# Usage (as root, for Postfix):
#   bench/gateway_figures.sh [CREDSIFT_BINARY] [MESSAGES] [SMTP_MESSAGES] [BASELINE_BINARY]
# BASELINE_BINARY (optional): an older credsift whose check and milter are measured in the same
# rounds (with its own rule cache directory), for before/after figures.
# GATEWAY_FIGURES=milter skips the per-process latency part (only the Postfix throughput runs).
set -euo pipefail

source_dir=$(cd "$(dirname "$0")/.." && pwd)
binary=${1:-$source_dir/build/credsift}
count=${2:-1000}
smtp_count=${3:-400}
baseline=${4:-}
. "$source_dir/tests/gateway/postfix_lib.sh"

work=$(mktemp -d /tmp/credsift-gateway-bench-XXXXXX)
chmod 755 "$work"
milter_pid=""
baseline_milter_pid=""
baseline_unix_milter_pid=""
unix_milter_pid=""
serve_pid=""
postfix_started=0
cleanup() {
  if [ "$postfix_started" -eq 1 ]; then postfix -c "$work/etc" stop >/dev/null 2>&1 || true; fi
  for pid in $milter_pid $unix_milter_pid $baseline_milter_pid $baseline_unix_milter_pid $serve_pid; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
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

python3 "$source_dir/tests/gateway/pdf_message.py" --fallback >"$work/pdf.eml"

# Warm the rule cache so that every timed call starts like a gateway call does. A baseline binary
# gets its own cache directory (its cache format may differ).
"$binary" check "$work/messages/00000.eml" >/dev/null || true
if [ -n "$baseline" ]; then
  mkdir -m 700 "$work/baseline-cache"
  CREDSIFT_CACHE_DIR="$work/baseline-cache" "$baseline" check "$work/messages/00000.eml" \
    >/dev/null || true
fi
"$binary" serve --socket "$work/serve.sock" </dev/null >"$work/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 1800); do [ -S "$work/serve.sock" ] && break; sleep 0.1; done

if [ "${GATEWAY_FIGURES:-all}" != milter ]; then
echo "== one process per message, $count messages, interleaved (wall ms; CPU ms = user+sys)"
python3 - "$binary" "$work/messages" "$work/pdf.eml" "$work/serve.sock" "$baseline" \
  "$work/baseline-cache" <<'PY'
import json, os, pathlib, resource, statistics, subprocess, sys, time
binary, messages, pdf, sock, baseline, baseline_cache = sys.argv[1:7]
messages = sorted(pathlib.Path(messages).glob("*.eml"))
def run(command, path, env=None):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(path, "rb") as stdin:
        started = time.perf_counter()
        done = subprocess.run(command, stdin=stdin, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, env=env)
        wall = (time.perf_counter() - started) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    return wall, cpu, done
rows = {}
def add(name, wall, cpu):
    rows.setdefault(name, ([], []))
    rows[name][0].append(wall)
    rows[name][1].append(cpu)
baseline_env = dict(os.environ, CREDSIFT_CACHE_DIR=baseline_cache)
actions = {}
for path in messages:  # interleaved, so every command sees the same machine load
    wall, cpu, _ = run(["cat"], path); add("cat (floor)", wall, cpu)
    wall, cpu, done = run([binary, "check"], path)
    if done.returncode not in (0, 1):
        sys.exit(f"check failed on {path}: exit {done.returncode}")
    verdict = json.loads(done.stdout)
    actions[verdict["action"]] = actions.get(verdict["action"], 0) + 1
    add("check", wall, cpu)
    add("check in-process scan", verdict["elapsed_ms"], 0)
    wall, cpu, done = run([binary, "check", "--daemon", sock], path)
    if done.returncode not in (0, 1):
        sys.exit(f"check --daemon failed on {path}: exit {done.returncode}")
    add("check --daemon (serve)", wall, cpu)
    wall, cpu, _ = run([binary, "--version"], path); add("--version", wall, cpu)
    wall, cpu, _ = run([binary, "check"], pdf); add("check, PDF via poppler", wall, cpu)
    wall, cpu, _ = run([binary, "check", "--daemon", sock], pdf); add("check --daemon, PDF", wall, cpu)
    if baseline:
        wall, cpu, _ = run([baseline, "check"], path, baseline_env); add("baseline check", wall, cpu)
        wall, cpu, _ = run([baseline, "--version"], path); add("baseline --version", wall, cpu)
        wall, cpu, _ = run([baseline, "check"], pdf, baseline_env)
        add("baseline check, PDF", wall, cpu)
def p(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]
floor = statistics.median(rows["cat (floor)"][0])
for name, (walls, cpus) in rows.items():
    print(f"{name:26s} median {statistics.median(walls):8.2f} ms  p99 {p(walls, 0.99):8.2f} ms  "
          f"CPU median {statistics.median(cpus):7.2f} ms  x{statistics.median(walls) / floor:5.1f} cat")
print("verdicts:", ", ".join(f"{k} {v}" for k, v in sorted(actions.items())))
PY
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "(milter throughput skipped: Postfix needs root)"
  exit 0
fi

# ---- Throughput through Postfix: smtp-source sends the mixed messages over 4 sessions, first
# with the milter, then with no milter on the same instance.
# Every verdict is "tag" in the throughput runs, so that Postfix delivers every message with and
# without the milter (a held message costs Postfix less than a delivered one).
echo '{"actions": {"*": {"*": "tag"}}, "default_action": "tag"}' >"$work/tag.json"
smtp_port=$(free_port)
milter_port=$(free_port)
baseline_port=$(free_port)
if [ -n "$baseline" ]; then
  CREDSIFT_CACHE_DIR="$work/baseline-cache" "$baseline" milter \
    --socket "inet:$baseline_port@127.0.0.1" --policy "$work/tag.json" \
    </dev/null >"$work/baseline-milter.log" 2>&1 &
  baseline_milter_pid=$!
  wait_for_port "$baseline_port" 180 || fail "baseline milter did not start"
  mkdir -m 755 "$work/baseline-unix"
  (umask 0 && CREDSIFT_CACHE_DIR="$work/baseline-cache" exec "$baseline" milter \
    --socket "unix:$work/baseline-unix/sock" --policy "$work/tag.json" \
    </dev/null >"$work/baseline-milter-unix.log" 2>&1) &
  baseline_unix_milter_pid=$!
  for _ in $(seq 1800); do [ -S "$work/baseline-unix/sock" ] && break; sleep 0.1; done
fi

"$binary" milter --socket "inet:$milter_port@127.0.0.1" --policy "$work/tag.json" </dev/null \
  >"$work/milter.log" 2>&1 &
milter_pid=$!
wait_for_port "$milter_port" 180 || fail "milter did not start"
# The same milter on a Unix socket (no TCP: no Nagle or delayed ACK between Postfix's small
# writes); the socket must be writable by Postfix's smtpd (user postfix).
mkdir -m 755 "$work/milter-unix"
(umask 0 && exec "$binary" milter --socket "unix:$work/milter-unix/sock" --policy "$work/tag.json" \
  </dev/null >"$work/milter-unix.log" 2>&1) &
unix_milter_pid=$!
for _ in $(seq 1800); do [ -S "$work/milter-unix/sock" ] && break; sleep 0.1; done
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
# Alternating rounds; each configuration's best of 3.
use_milter() {  # new, new-unix, none, baseline or baseline-unix
  local spec=""
  [ "$1" = new ] && spec="inet:127.0.0.1:$milter_port"
  [ "$1" = new-unix ] && spec="unix:$work/milter-unix/sock"
  [ "$1" = baseline ] && spec="inet:127.0.0.1:$baseline_port"
  [ "$1" = baseline-unix ] && spec="unix:$work/baseline-unix/sock"
  postconf -c "$work/etc" -e "smtpd_milters = $spec" && postfix -c "$work/etc" reload >/dev/null 2>&1
  sleep 2
}
configs=(new none new-unix)
[ -n "$baseline" ] && configs+=(baseline baseline-unix)
declare -A best
for round in 1 2 3; do
  for config in "${configs[@]}"; do
    use_milter "$config"
    rate=$(throughput)
    if [ -z "${best[$config]:-}" ] ||
      python3 -c "import sys; sys.exit(0 if $rate > ${best[$config]} else 1)"; then
      best[$config]=$rate
    fi
  done
done
with_milter=${best[new]}
without_milter=${best[none]}
echo "== Postfix on loopback, $smtp_count messages per round, 4 sessions, best of 3 rounds"
echo "with credsift milter    $with_milter messages/s"
echo "without milter          $without_milter messages/s"
python3 -c "print(f'milter / no milter: x{$with_milter / $without_milter:.2f}')"
echo "with milter, Unix socket ${best[new-unix]} messages/s"
python3 -c "print(f'milter on a Unix socket / no milter: x{${best[new-unix]} / $without_milter:.2f}')"
# Where the milter's time goes: each milter's CPU seconds (user+sys) over the messages it checked.
milter_cpu() {  # label pid log
  local messages
  messages=$(grep -cE ': (pass|tag|hold|reject): ' "$3" || true)
  python3 - "$1" "$2" "$messages" <<'PY'
import os, sys
label, pid, messages = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
print(f"{label} CPU: {cpu:.2f} s over {messages} messages, {1000 * cpu / max(messages, 1):.2f} ms each")
PY
}
milter_cpu "milter (TCP)" "$milter_pid" "$work/milter.log"
milter_cpu "milter (Unix)" "$unix_milter_pid" "$work/milter-unix.log"
if [ -n "$baseline" ]; then
  milter_cpu "baseline milter (TCP)" "$baseline_milter_pid" "$work/baseline-milter.log"
  milter_cpu "baseline milter (Unix)" "$baseline_unix_milter_pid" "$work/baseline-milter-unix.log"
fi
if [ -n "$baseline" ]; then
  with_baseline=${best[baseline]}
  echo "with baseline milter    $with_baseline messages/s"
  python3 -c "print(f'baseline milter / no milter: x{$with_baseline / $without_milter:.2f}')"
  echo "with baseline milter, Unix socket ${best[baseline-unix]} messages/s"
  python3 -c "print(f'baseline milter on a Unix socket / no milter: x{${best[baseline-unix]} / $without_milter:.2f}')"
fi

echo "milter verdicts: $(grep -oE ': (pass|tag|hold|reject): ' "$work/milter.log" | tr -d ': ' |
  sort | uniq -c | awk '{printf "%s %s  ", $2, $1}')"

# ---- The milter alone, without Postfix's own time: a Postfix-like client replays one milter
# session per message (negotiate, macros, MAIL, RCPT, headers, body, end of message, quit; each
# command its own write, waiting only for the replies the milter asked for), sequentially,
# alternating between the milters, best median of 3 rounds each.
targets=("TCP" "inet:$milter_port" "Unix socket" "unix:$work/milter-unix/sock")
if [ -n "$baseline" ]; then
  targets+=("baseline TCP" "inet:$baseline_port" "baseline Unix socket"
    "unix:$work/baseline-unix/sock")
fi
echo "== milter session time (one message per session, $smtp_count sessions per round)"
python3 - "$work/messages" "$smtp_count" "${targets[@]}" <<'PY'
import pathlib, socket, statistics, struct, sys, time
messages = sorted(pathlib.Path(sys.argv[1]).glob("*.eml"))
count = int(sys.argv[2])
targets = list(zip(sys.argv[3::2], sys.argv[4::2]))
def frame(command, data=b""):
    return struct.pack(">I", len(data) + 1) + command + data
def nul(*parts):
    return b"".join(part + b"\0" for part in parts)
def commands(raw, index):
    head, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    headers = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and headers:
            headers[-1][1] += b"\r\n" + line
        elif b":" in line:
            name, _, value = line.partition(b":")
            headers.append([name, value.lstrip()])
    body = body.replace(b"\n", b"\r\n")
    out = [(b"D", b"C" + nul(b"j", b"gateway.test", b"{daemon_name}", b"smtpd"), None),
           (b"D", b"M" + nul(b"{mail_addr}", b"sender@corp.test"), None),
           (b"M", nul(b"<sender@corp.test>"), 0x4000),
           (b"D", b"R" + nul(b"{rcpt_addr}", b"user@example.test"), None),
           (b"R", nul(b"<user@example.test>"), 0x8000),
           (b"D", b"T" + nul(b"i", b"Q%d" % index), None)]
    out += [(b"L", nul(name, value), 0x80) for name, value in headers]
    out.append((b"N", b"", 0x40000))
    out += [(b"B", body[at:at + 65535], 0x80000) for at in range(0, len(body), 65535)]
    out.append((b"E", b"", "end"))
    return out
sessions = [commands(path.read_bytes(), i) for i, path in enumerate(messages)]
def reply(sock, pending):
    while True:
        if len(pending) >= 4:
            length = struct.unpack(">I", pending[:4])[0]
            if len(pending) >= 4 + length:
                return pending[4:4 + length], pending[4 + length:]
        data = sock.recv(65536)
        if not data:
            sys.exit("milter closed the connection")
        pending += data
def session(target, steps_of_commands):
    kind, _, where = target.partition(":")
    sock = socket.socket(socket.AF_UNIX) if kind == "unix" else socket.socket()
    sock.connect(where if kind == "unix" else ("127.0.0.1", int(where)))
    sock.sendall(frame(b"O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF)))
    answer, pending = reply(sock, b"")
    steps = struct.unpack(">I", answer[9:13])[0]
    for command, data, no_reply in steps_of_commands:
        sock.sendall(frame(command, data))
        if no_reply == "end":
            while True:
                answer, pending = reply(sock, pending)
                if answer[:1] in (b"c", b"a", b"r", b"t", b"y"):
                    break
        elif no_reply is not None and not steps & no_reply:
            answer, pending = reply(sock, pending)
    sock.sendall(frame(b"Q"))
    sock.close()
best = {}
for _ in range(3):
    for label, target in targets:
        times = []
        for i in range(count):
            started = time.perf_counter()
            session(target, sessions[i % len(sessions)])
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        row = (statistics.median(times), times[int(0.9 * len(times))])
        if label not in best or row[0] < best[label][0]:
            best[label] = row
for label, (median, p90) in best.items():
    print(f"{label:22s} median {median:7.2f} ms  p90 {p90:7.2f} ms per session")
PY
