#!/usr/bin/env bash
# `credsift serve` and its client `credsift check --daemon`, and the poppler plugin of `check`:
#   * a PDF that our own reader declines is read by the plugin; without the plugin it gets a
#     clear warning (a decode problem), not a crash;
#   * serve's socket is mode 0600; check --daemon gives the same verdicts and exit codes as a
#     local check, problems included; the size limit, a bad request, SIGHUP reload, SIGTERM.
# Usage: serve_test.sh CREDSIFT_BINARY SOURCE_DIR. Needs no root. The server it starts is stopped
# by pid on exit, whatever the outcome.
set -euo pipefail

binary=$1
source_dir=$2
work=$(mktemp -d /tmp/credsift-serve-XXXXXX)
server_pid=""
cleanup() {
  local status=$?
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ]; then echo "---- serve log"; cat "$work/serve.log" 2>/dev/null || true; fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

token="ghp_$(printf 'A1b2C3d4E5%.0s' 1 2 3)x1y2z3"
python3 "$source_dir/tests/gateway/pdf_message.py" --fallback --text "token $token" \
  >"$work/pdf_secret.eml"
python3 "$source_dir/tests/gateway/pdf_message.py" --text "token $token" >"$work/pdf_fast.eml"
printf 'From: a@corp.test\nTo: b@example.test\nSubject: hi\n\nLunch at noon?\n' >"$work/clean.eml"

# ---- 1. The poppler plugin: loaded for the declined PDF, which then yields the token.
status=0
"$binary" check "$work/pdf_secret.eml" >"$work/out.json" 2>"$work/err.txt" || status=$?
[ "$status" -eq 1 ] || { cat "$work/out.json" "$work/err.txt"; fail "PDF via poppler: exit $status"; }
grep -q '"part_path":"2:attachment=report.pdf"' "$work/out.json" || fail "no finding in the PDF"
echo "ok: a declined PDF is read through the poppler plugin"

# ---- 2. Without the plugin: a warning naming the PDF and the plugin, the scan goes on.
mkdir "$work/no-plugins"
status=0
CREDSIFT_PLUGIN_DIR="$work/no-plugins" "$binary" check "$work/pdf_secret.eml" \
  >"$work/out.json" 2>"$work/err.txt" || status=$?
[ "$status" -eq 0 ] || { cat "$work/out.json" "$work/err.txt"; fail "no plugin: exit $status"; }
grep -q '"decode_problems":1' "$work/out.json" || fail "no decode problem counted"
grep -q "warning: 2:attachment=report.pdf: PDF text not decoded.*libcredsift_poppler.so not found" \
  "$work/err.txt" || { cat "$work/err.txt"; fail "no clear warning without the plugin"; }
# Our own reader needs no plugin.
status=0
CREDSIFT_PLUGIN_DIR="$work/no-plugins" "$binary" check "$work/pdf_fast.eml" >/dev/null 2>&1 ||
  status=$?
[ "$status" -eq 1 ] || fail "a simple PDF needs no plugin, yet exit $status"
echo "ok: without the plugin a declined PDF gets a warning, not a crash"

# ---- 3. The front binary has no poppler, SQLite, libcurl or tcmalloc of its own.
if ldd "$(dirname "$binary")/credsift-gateway" | grep -E "libpoppler|libsqlite3|libcurl|libpq|libhiredis|libtcmalloc"; then
  fail "the gateway front maps a library of another command"
fi
"$binary" rules list >/dev/null || fail "credsift rules list (run by credsift-full) failed"
[ "$(ldd "$binary" | grep -c "=>")" -le 5 ] || { ldd "$binary"; fail "the credsift front maps more than the C and C++ runtimes"; }
echo "ok: the front maps no heavy library, other commands still work"

# ---- 4. serve: socket 0600, verdicts as a local check.
cat >"$work/policy.json" <<'JSON'
{"actions": {"*": {"*": "hold", "rejected": "pass"}}, "on_error": "fail-closed"}
JSON
socket="$work/serve.sock"
"$binary" serve --socket "$socket" --policy "$work/policy.json" --max-message-size 1 \
  </dev/null >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1800); do [ -S "$socket" ] && break; sleep 0.1; done
[ -S "$socket" ] || fail "serve did not create its socket"
[ "$(stat -c %a "$socket")" = 600 ] || fail "socket mode $(stat -c %a "$socket"), not 600"
echo "ok: socket mode 0600"

for message in pdf_secret pdf_fast clean; do
  local_status=0 daemon_status=0
  "$binary" check --policy "$work/policy.json" "$work/$message.eml" >"$work/local.json" \
    2>/dev/null || local_status=$?
  "$binary" check --daemon "$socket" "$work/$message.eml" >"$work/daemon.json" 2>/dev/null ||
    daemon_status=$?
  [ "$local_status" -eq "$daemon_status" ] ||
    fail "$message: exit $daemon_status through serve, $local_status locally"
  strip() { sed 's/"elapsed_ms":[0-9.]*//' "$1"; }
  [ "$(strip "$work/local.json")" = "$(strip "$work/daemon.json")" ] ||
    { cat "$work/local.json" "$work/daemon.json"; fail "$message: verdicts differ"; }
done
grep -q '"action":"hold"' "$work/local.json" && fail "the clean message was held" || true
# Envelope options travel with the request (and are accepted by the server).
"$binary" check --daemon "$socket" -f x@corp.test -r y@example.test "$work/clean.eml" >/dev/null ||
  fail "check --daemon with an envelope failed"
echo "ok: check --daemon gives the local verdicts and exit codes"

# ---- 5. Limits: a message over the server's size limit gets on_error (fail-closed: hold),
# unread; a request that is not one gets an error and exit 2; the server lives on.
python3 -c "import sys; sys.stdout.write('Subject: big\n\n' + 'x' * (3 << 20))" >"$work/big.eml"
status=0
"$binary" check --daemon "$socket" "$work/big.eml" >"$work/out.json" 2>&1 || status=$?
[ "$status" -eq 1 ] && grep -q "larger than the server's --max-message-size" "$work/out.json" ||
  { cat "$work/out.json"; fail "oversized message: exit $status"; }
reply=$(python3 - "$socket" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"GET / HTTP/1.0\r\n\r\n"); s.shutdown(socket.SHUT_WR)
print(s.recv(4096).decode())
PY
)
[[ "$reply" == "error not a credsift check request"* ]] || fail "bad request answered: $reply"
kill -0 "$server_pid" || fail "serve died"
echo "ok: size limit and bad requests answered, server alive"

# ---- 6. SIGHUP reloads the policy: everything passes now.
echo '{"actions": {"*": {"*": "pass"}}}' >"$work/policy.json"
kill -HUP "$server_pid"
for _ in $(seq 1800); do grep -q "engine 2:" "$work/serve.log" && break; sleep 0.1; done
grep -q "engine 2:" "$work/serve.log" || fail "no reload after SIGHUP"
"$binary" check --daemon "$socket" "$work/pdf_fast.eml" >"$work/out.json" ||
  fail "after the reload the token still blocks"
grep -q '"action":"pass"' "$work/out.json" || fail "reloaded policy not applied"
echo "ok: SIGHUP reloads the policy"

# ---- 7. SIGTERM: clean stop, socket removed; a client then fails with exit 2.
kill -TERM "$server_pid"
server_status=0
wait "$server_pid" || server_status=$?
server_pid=""
[ "$server_status" -eq 0 ] || fail "serve exited with $server_status"
[ -e "$socket" ] && fail "socket left behind" || true
status=0
"$binary" check --daemon "$socket" "$work/clean.eml" >/dev/null 2>&1 || status=$?
[ "$status" -eq 2 ] || fail "no server: exit $status, not 2"
echo "ok: SIGTERM stops serve and removes its socket"
echo "PASS"
