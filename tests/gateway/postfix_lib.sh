# Shared by the gateway test and bench/gateway_figures.sh: loopback ports and a private Postfix
# instance (config, queue and data directories under one work directory, loopback only, every
# recipient @example.test delivered by virtual(8) to the mbox file WORK/mail/inbox).

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# A loopback port nobody listens on (connect refused). Bounded number of tries.
free_port() {
  local port
  for _ in $(seq 100); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  fail "no free loopback port"
}

wait_for_port() {  # port seconds
  for _ in $(seq $(($2 * 10))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

# write_postfix_config WORK SMTP_PORT MILTERS (MILTERS empty: no milter)
write_postfix_config() {
  mkdir -p "$1/etc" "$1/queue" "$1/data" "$1/mail"
  chown postfix "$1/data"
  chown nobody:nogroup "$1/mail"
  cat >"$1/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $1/queue
data_directory = $1/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = gateway-test.localdomain
mydomain = localdomain
mydestination =
mynetworks = 127.0.0.0/8
relay_domains =
alias_maps =
alias_database =
local_transport = error:local delivery is disabled
virtual_mailbox_domains = example.test
virtual_mailbox_base = $1/mail
virtual_mailbox_maps = static:inbox
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(getent group nogroup | cut -d: -f3)
virtual_minimum_uid = 1
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_milters = $3
non_smtpd_milters =
milter_default_action = tempfail
milter_connect_timeout = 10s
milter_content_timeout = 60s
maillog_file = $1/postfix.log
maillog_file_prefixes = $1
syslog_name = postfix-credsift-test
smtputf8_enable = no
biff = no
EOF
  cat >"$1/etc/master.cf" <<EOF
127.0.0.1:$2 inet n - n - - smtpd
pickup     unix  n - n 60 1 pickup
cleanup    unix  n - n - 0 cleanup
qmgr       unix  n - n 300 1 qmgr
rewrite    unix  - - n - - trivial-rewrite
bounce     unix  - - n - 0 bounce
defer      unix  - - n - 0 bounce
trace      unix  - - n - 0 bounce
verify     unix  - - n - 1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n - - proxymap
proxywrite unix  - - n - 1 proxymap
smtp       unix  - - n - - smtp
relay      unix  - - n - - smtp
showq      unix  n - n - - showq
error      unix  - - n - - error
retry      unix  - - n - - error
discard    unix  - - n - - discard
local      unix  - n n - - local
virtual    unix  - n n - - virtual
anvil      unix  - - n - 1 anvil
scache     unix  - - n - 1 scache
postlog    unix-dgram n - n - 1 postlogd
EOF
}
