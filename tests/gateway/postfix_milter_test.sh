#!/usr/bin/env bash
# Gateway integration test: a private Postfix instance on loopback, with `credsift milter` as its
# smtpd_milter, delivering to an mbox file under a temp dir. Messages go in over SMTP (swaks).
# Usage: postfix_milter_test.sh CREDSIFT_BINARY SOURCE_DIR. Needs root (Postfix runs its own
# daemons as the postfix user); exits 77 (skipped) otherwise. Everything it starts is stopped and
# removed on exit, whatever the outcome.
set -euo pipefail
. "$(dirname "$0")/postfix_lib.sh"

binary=$1
source_dir=$2
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: the Postfix gateway test runs as root"
  exit 77
fi
if ! command -v postfix >/dev/null || ! command -v swaks >/dev/null; then
  "$source_dir/scripts/setup"  # installs postfix and swaks non-interactively
fi

work=$(mktemp -d /tmp/credsift-gateway-XXXXXX)
chmod 755 "$work"  # Postfix daemons (user postfix) and virtual(8) (user nobody) walk through it
milter_pid=""
postfix_started=0

cleanup() {
  local status=$?
  if [ "$postfix_started" -eq 1 ]; then postfix -c "$work/etc" stop >/dev/null 2>&1 || true; fi
  if [ -n "$milter_pid" ] && kill -0 "$milter_pid" 2>/dev/null; then
    kill -TERM "$milter_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$milter_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$milter_pid" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ]; then
    echo "---- milter log"; cat "$work/milter.log" 2>/dev/null || true
    echo "---- postfix log"; tail -n 60 "$work/postfix.log" 2>/dev/null || true
  fi
  # Postfix master may take a moment to let go of the queue directory.
  for _ in $(seq 50); do pgrep -f "master -c $work/etc" >/dev/null || break; sleep 0.1; done
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 1' INT TERM


smtp_port=$(free_port)
milter_port=$(free_port)
[ "$smtp_port" != "$milter_port" ] || milter_port=$((smtp_port + 1))

# ---- the milter, with a test policy: critical and high findings rejected, placeholders pass,
# malformed mail (decode problems) held (fail-closed).
cat >"$work/policy.json" <<'EOF'
{
  "actions": {
    "critical": {"*": "reject", "rejected": "pass"},
    "high": {"*": "reject", "rejected": "pass"},
    "*": {"*": "tag", "rejected": "pass"}
  },
  "max_scan_ms": 5000,
  "on_timeout": "fail-closed",
  "on_error": "fail-closed",
  "on_malformed": "fail-closed"
}
EOF
"$binary" milter --socket "inet:$milter_port@127.0.0.1" --policy "$work/policy.json" \
  </dev/null >"$work/milter.log" 2>&1 &
milter_pid=$!
# The first start may compile the rule database (seconds); later starts load it from the cache.
wait_for_port "$milter_port" 180 || fail "milter did not listen on $milter_port"

# ---- Postfix: own config, queue and data directories, loopback only, one virtual mailbox.
write_postfix_config "$work" "$smtp_port" "inet:127.0.0.1:$milter_port"
postfix -c "$work/etc" check >"$work/check.log" 2>&1 || { cat "$work/check.log"; fail "postfix check"; }
postfix -c "$work/etc" start >/dev/null 2>&1 || fail "postfix start"
postfix_started=1
wait_for_port "$smtp_port" 30 || fail "Postfix did not listen on $smtp_port"

mailbox="$work/mail/inbox"

send() {  # file -> swaks transcript in $work/last.txt, returns swaks' exit code
  local status=0
  timeout 60 swaks --server "127.0.0.1:$smtp_port" --from sender@corp.test \
    --to user@example.test --data "$1" --timeout 30 </dev/null >"$work/last.txt" 2>&1 ||
    status=$?
  return $status
}

wait_delivered() {  # message-id
  for _ in $(seq 300); do
    if [ -f "$mailbox" ] && grep -qF "$1" "$mailbox"; then return 0; fi
    sleep 0.1
  done
  return 1
}

queue_empty_or_held() {  # waits until the active/incoming/deferred queues are empty
  for _ in $(seq 300); do
    if [ -z "$(find "$work/queue/incoming" "$work/queue/active" "$work/queue/deferred" \
      -type f 2>/dev/null)" ]; then return 0; fi
    sleep 0.1
  done
  return 1
}

message() {  # file message-id body...
  local file=$1 id=$2
  shift 2
  {
    printf 'From: sender@corp.test\r\nTo: user@example.test\r\nSubject: gateway test\r\n'
    printf 'Message-ID: <%s>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\n' "$id"
    printf '%s\r\n' "$@"
  } >"$file"
}

# 1. A clean message is delivered, tagged pass.
message "$work/clean.eml" clean-1@corp.test "Hello," "the meeting moved to 3pm." "Ann"
send "$work/clean.eml" || { cat "$work/last.txt"; fail "clean message not accepted"; }
wait_delivered clean-1@corp.test || fail "clean message not delivered"
grep -q "^X-Credsift-Verdict: pass" "$mailbox" || fail "no X-Credsift-Verdict header"
echo "ok: clean message delivered"

# 2. A private key in a base64 attachment is rejected with 5.7.1, never delivered, secret unquoted.
sed 's/^Message-ID: .*/Message-ID: <key-1@corp.test>/' \
  "$source_dir/corpora/samples/eml/s12.eml" >"$work/key.eml"
grep -q "^Content-Transfer-Encoding: base64" "$work/key.eml" || fail "key sample lost its base64"
key_line=$(tr -d '\r' <"$work/key.eml" | grep -m1 -E '^[A-Za-z0-9+/]{40,}=*$')
[ -n "$key_line" ] || fail "no base64 line in the key sample"
if send "$work/key.eml"; then fail "message with a private key accepted"; fi
grep -q "550 5.7.1 credsift: .*private_key" "$work/last.txt" ||
  { cat "$work/last.txt"; fail "no 550 5.7.1 naming the rule"; }
grep -q -- "PRIVATE KEY-----" "$work/last.txt" && fail "the reply quotes the key" || true
queue_empty_or_held || fail "queue did not drain"
grep -qF "key-1@corp.test" "$mailbox" && fail "rejected message was delivered" || true
grep -qF "$key_line" "$mailbox" && fail "the key reached the mailbox" || true
echo "ok: private key in a base64 attachment rejected"

# 3. A placeholder password passes (validation rejects the hit; the policy lets it through).
message "$work/placeholder.eml" placeholder-1@corp.test \
  "The password is: EXAMPLEPASSWORD" "postgres://admin:password@db.example.com/app"
"$binary" check --policy "$work/policy.json" "$work/placeholder.eml" >/dev/null ||
  fail "credsift check does not pass the placeholder message"
send "$work/placeholder.eml" || { cat "$work/last.txt"; fail "placeholder message not accepted"; }
wait_delivered placeholder-1@corp.test || fail "placeholder message not delivered"
echo "ok: placeholder password delivered"

# 4. Malformed MIME does not crash the milter and is held (on_malformed fail-closed).
{
  printf 'From: sender@corp.test\r\nTo: user@example.test\r\nSubject: broken\r\n'
  printf 'Message-ID: <malformed-1@corp.test>\r\nMIME-Version: 1.0\r\n'
  printf 'Content-Type: multipart/mixed; boundary="outer"\r\n\r\n--outer\r\n'
  printf 'Content-Type: multipart/alternative; boundary=\r\nContent-Transfer-Encoding: base64\r\n\r\n'
  printf '!!!not*base64***\r\n=?utf-8?B?broken\r\n--outer\r\nContent-Type: text/plain\r\n'
  printf 'Content-Transfer-Encoding: quoted-printable\r\n\r\nsoft=\r\nbreak =ZZ =\r\n'
} >"$work/malformed.eml"
send "$work/malformed.eml" || { cat "$work/last.txt"; fail "malformed message refused"; }
queue_empty_or_held || fail "queue did not drain"
kill -0 "$milter_pid" || fail "the milter died on the malformed message"
[ -n "$(find "$work/queue/hold" -type f)" ] || fail "malformed message not held"
grep -qF "malformed-1@corp.test" "$mailbox" && fail "held message was delivered" || true
echo "ok: malformed message held, milter alive"

# 5. SIGHUP reloads without stopping; the new policy (malformed mail fail-open: delivered with a
# tag) applies to the next message.
sed -i 's/"on_malformed": "fail-closed"/"on_malformed": "fail-open"/' "$work/policy.json"
kill -HUP "$milter_pid"
for _ in $(seq 600); do grep -q "engine 2:" "$work/milter.log" && break; sleep 0.1; done
grep -q "engine 2:" "$work/milter.log" || fail "no reload after SIGHUP"
kill -0 "$milter_pid" || fail "the milter stopped on SIGHUP"
message "$work/after.eml" after-reload-1@corp.test "Still here."
send "$work/after.eml" || { cat "$work/last.txt"; fail "message after reload refused"; }
wait_delivered after-reload-1@corp.test || fail "message after reload not delivered"
sed 's/malformed-1@corp.test/malformed-2@corp.test/' "$work/malformed.eml" >"$work/malformed2.eml"
send "$work/malformed2.eml" || { cat "$work/last.txt"; fail "malformed message refused"; }
wait_delivered malformed-2@corp.test || fail "malformed message not delivered under fail-open"
grep -q "^X-Credsift-Verdict: tag" "$mailbox" || fail "fail-open message not tagged"
echo "ok: SIGHUP reload, mail still delivered, malformed mail tagged under fail-open"

# 6. SIGTERM stops the milter cleanly.
kill -TERM "$milter_pid"
for _ in $(seq 100); do kill -0 "$milter_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$milter_pid" 2>/dev/null; then fail "milter still running 10 s after SIGTERM"; fi
milter_status=0
wait "$milter_pid" || milter_status=$?
milter_pid=""
[ "$milter_status" -eq 0 ] || fail "milter exited with $milter_status after SIGTERM"
grep -q "stopped" "$work/milter.log" || fail "milter did not log its stop"
echo "ok: SIGTERM clean stop"
echo "PASS"
