#!/usr/bin/env bash
# yoban exec over SSH against a real sshd on loopback (lib/sshd.sh): output and status, binary
# output intact, the connection killed mid-job and the runner killed mid-job (every line and the
# exit arrive once, after a reconnect), and the refusals an operator must be able to read: a
# wrong host key (both fingerprints named), a key the host does not accept, nothing listening,
# and a hostile "runner" writing garbage (refused without a crash).
set -uo pipefail
YB_BIN=${YB_BIN:?YB_BIN must point at the build bin folder}
export YB_BIN
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/sshd.sh
. "$here/lib/sshd.sh"
. "$here/lib/assert.sh"
yoban=$YB_BIN/yoban
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
sshd_start || bail "sshd starts"
tmp=$(mktemp -d)
trap 'sshd_stop; rm -rf "$tmp"' EXIT

write_config() { # key host_key port
  cat > "$tmp/yoban.yaml" <<EOF2
state_dir: $tmp/state
inventory: $tmp/inventory.yaml
ssh: { key: $1 }
EOF2
  cat > "$tmp/inventory.yaml" <<EOF2
hosts:
  batch-01: { address: 127.0.0.1, port: $3, user: $SSHD_USER, environment: staging, host_key: "$2" }
EOF2
}
write_config "$SSHD_KEY" "$SSHD_FINGERPRINT" "$SSHD_PORT"

x() { YOBAN_RECONNECT_ATTEMPTS=6 "$yoban" exec --config "$tmp/yoban.yaml" "$@"; }

out=$(x --host batch-01 -- sh -c 'echo hello; echo oops >&2; exit 5' 2>"$tmp/err"); rc=$?
check "ssh: stdout" "hello" "$out"
check "ssh: stderr" "oops" "$(cat "$tmp/err")"
check "ssh: status" 5 "$rc"

head -c 12000000 /dev/urandom > "$tmp/blob"
got=$(x --host batch-01 -- cat "$tmp/blob" 2>/dev/null | sha256sum | cut -d' ' -f1)
check "ssh: binary output intact" "$(sha256sum < "$tmp/blob" | cut -d' ' -f1)" "$got"

expected=$(seq 1 400 | sed 's/^/line-/')
interrupted_job() { # what-to-kill
  x --host batch-01 -- sh -c 'i=1; while [ $i -le 400 ]; do echo line-$i; i=$((i+1)); case $i in *0) sleep 0.02;; esac; done; exit 4' \
    >"$tmp/out" 2>"$tmp/err" &
  local pid=$!
  for _ in $(seq 1 200); do [ "$(wc -l < "$tmp/out")" -ge 40 ] && break; sleep 0.05; done
  "$1"
  wait "$pid"; local rc=$?
  check "$1: every line once" "$expected" "$(cat "$tmp/out")"
  check "$1: the exit arrives" 4 "$rc"
  contains "$1: reconnected and re-attached" "re-attaching" "$(cat "$tmp/err")"
}
kill_runner() { kill -KILL "$(cat "$SSHD_RUNNER_PIDFILE")"; }
interrupted_job sshd_kill_connections
interrupted_job kill_runner

wrong="SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"
write_config "$SSHD_KEY" "$wrong" "$SSHD_PORT"
x --host batch-01 -- true >/dev/null 2>"$tmp/err"; rc=$?
check "wrong host key: refused (255)" 255 "$rc"
contains "wrong host key: names the pinned one" "$wrong" "$(cat "$tmp/err")"
contains "wrong host key: names the presented one" "$SSHD_FINGERPRINT" "$(cat "$tmp/err")"
contains "wrong host key: says how to check" "ssh-keygen -lf" "$(cat "$tmp/err")"

ssh-keygen -q -t ed25519 -N '' -f "$tmp/stranger"
write_config "$tmp/stranger" "$SSHD_FINGERPRINT" "$SSHD_PORT"
x --host batch-01 -- true >/dev/null 2>"$tmp/err"; rc=$?
check "key not accepted: 255" 255 "$rc"
contains "key not accepted: named" "authentication failed" "$(cat "$tmp/err")"

write_config "$SSHD_KEY" "$SSHD_FINGERPRINT" "$(sshd_free_port)"
x --host batch-01 -- true >/dev/null 2>"$tmp/err"; rc=$?
check "unreachable: 255" 255 "$rc"
contains "unreachable: named" "cannot connect" "$(cat "$tmp/err")"

write_config "$SSHD_KEY" "$SSHD_FINGERPRINT" "$SSHD_PORT"
sshd_set_runner "head -c 300000 /dev/urandom"
x --host batch-01 -- true >/dev/null 2>"$tmp/err"; rc=$?
check "hostile runner: refused without a crash (255)" 255 "$rc"
contains "hostile runner: a protocol error" "error" "$(cat "$tmp/err")"
sshd_set_runner "printf '\\000\\000\\000\\014\\001{\"proto\":7}'; sleep 3"
x --host batch-01 -- true >/dev/null 2>"$tmp/err"; rc=$?
check "other protocol version: refused (255)" 255 "$rc"
contains "other protocol version: named" "protocol 7" "$(cat "$tmp/err")"

finish
