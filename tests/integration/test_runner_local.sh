#!/usr/bin/env bash
# yoban-runner from the shell: the command line, the state folder from the environment, end of
# file and garbage on standard input, and the sshd snippet in deploy/ on a real sshd (the account
# gets the runner and nothing else: no command of its own, no pty, no forwarding).
set -uo pipefail
runner="${YB_BIN:?}/yoban-runner"
src="${YB_SOURCE_DIR:?}"
. "${YB_SOURCE_DIR:?}/tests/integration/lib/assert.sh"
tmp=$(mktemp -d)
sshd_pid=
cleanup() { [ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

# A HELLO and a PING, as the scheduler would send them (frame: u32 length | u8 type | JSON).
frames() {
  python3 - <<'EOF'
import json, struct, sys
def fr(t, o):
    p = json.dumps(o).encode()
    return struct.pack('>IB', len(p) + 1, t) + p
sys.stdout.buffer.write(fr(1, {"proto": 1, "program": "yoban", "version": "0.1.0"}) + fr(8, {"seq": 5}))
EOF
}
# The types and payloads of the frames read from stdin, one per line.
decode() {
  python3 -c '
import struct, sys
d = sys.stdin.buffer.read()
while len(d) >= 5:
    n, t = struct.unpack(">IB", d[:5]); print(t, d[5:4 + n].decode(errors="replace")); d = d[4 + n:]'
}

check "--version" "yoban-runner 0.1.0 (protocol 1)" "$("$runner" --version)"
check "--help exits 0" 0 "$(status_of "$runner" --help)"
check "no command is a usage error" 2 "$(status_of "$runner")"
check "unknown option is a usage error" 2 "$(status_of "$runner" serve --frobnicate)"
check "gc on a missing folder" "removed 0 job journals from '$tmp/none'" \
  "$("$runner" gc --state-dir "$tmp/none")"

# end of file before anything: exit 0, and the state folder (from the environment) is made
YOBAN_RUNNER_STATE_DIR="$tmp/env-state" "$runner" serve </dev/null
check "serve on end of file exits 0" 0 "$?"
check "state folder from YOBAN_RUNNER_STATE_DIR, private" "700" "$(stat -c %a "$tmp/env-state")"
check "state folder has jobs/" "yes" "$([ -d "$tmp/env-state/jobs" ] && echo yes)"

# a client that writes and closes at once still gets its replies
out=$(frames | "$runner" serve --state-dir "$tmp/s1" | decode)
matches "HELLO and PONG" '1 {"proto":1,"program":"yoban-runner"*'$'\n''9 {"seq":5}' "$out"

# garbage: an ERROR frame, a message on stderr, exit 1
printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' | "$runner" serve --state-dir "$tmp/s2" >"$tmp/g.out" 2>"$tmp/g.err"
check "garbage exits 1" 1 "$?"
matches "garbage gets ERROR proto" '*"code":"proto"*larger than the limit*' "$(decode <"$tmp/g.out")"
matches "garbage named on stderr" 'yoban-runner: error: frame of *larger than the limit*' "$(cat "$tmp/g.err")"

# a state folder that cannot be made: the client is told, then exit 1
"$runner" serve --state-dir /dev/null/state </dev/null >"$tmp/st.out" 2>"$tmp/st.err"
check "unusable state folder exits 1" 1 "$?"
out=$(decode <"$tmp/st.out")
matches "unusable state folder: ERROR state" '*"code":"state"*/dev/null/state*' "$out"

# ---- the sshd snippet on a real sshd ----
if [ ! -x /usr/sbin/sshd ] || ! command -v ssh >/dev/null; then
  bail "sshd or ssh missing (deploy/install-deps.sh installs them)"
fi
user=$(id -un)
mkdir -p "$tmp/ssh" "$tmp/rstate"
chmod 700 "$tmp/ssh"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/ssh/host" && ssh-keygen -q -t ed25519 -N '' -f "$tmp/ssh/client"
cp "$tmp/ssh/client.pub" "$tmp/ssh/authorized_keys"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
[ "$(id -u)" -eq 0 ] && mkdir -p /run/sshd
# the snippet as shipped, pointed at this build, this user and a test state folder
snippet=$(sed -e "s|^Match User yoban-runner|Match User $user|" \
  -e "s|/usr/local/bin/yoban-runner serve --state-dir /var/lib/yoban-runner|$runner serve --state-dir $tmp/rstate|" \
  "$src/deploy/sshd_yoban-runner.conf")
check "snippet matches the account and forces serve" "2" \
  "$(grep -cE "^Match User $user\$|ForceCommand $runner serve --state-dir $tmp/rstate\$" <<<"$snippet")"
cat >"$tmp/ssh/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $port
HostKey $tmp/ssh/host
PidFile $tmp/ssh/sshd.pid
AuthorizedKeysFile $tmp/ssh/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
SetEnv ASAN_OPTIONS=detect_leaks=0
$snippet
EOF
check "sshd -t accepts the snippet" 0 "$(status_of /usr/sbin/sshd -t -f "$tmp/ssh/sshd_config")"
/usr/sbin/sshd -D -e -f "$tmp/ssh/sshd_config" 2>"$tmp/ssh/sshd.log" &
sshd_pid=$!
ssh_cmd=(ssh -p "$port" -i "$tmp/ssh/client" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
         -o BatchMode=yes -o LogLevel=ERROR -o ConnectTimeout=5 "$user@127.0.0.1")
for _ in $(seq 100); do "${ssh_cmd[@]}" </dev/null >/dev/null 2>&1 && break; sleep 0.1; done

out=$(frames | "${ssh_cmd[@]}" 'echo not the runner; touch '"$tmp"'/pwned' | decode)
matches "over ssh: the forced runner answers, whatever command was asked" \
  '1 {"proto":1,"program":"yoban-runner"*"state_dir":"'"$tmp/rstate"'"}'$'\n''9 {"seq":5}' "$out"
check "the asked command did not run" "no" "$([ -e "$tmp/pwned" ] && echo yes || echo no)"
err=$(timeout 10 "${ssh_cmd[@]}" -tt </dev/null 2>&1 >/dev/null)
contains "no pty" "PTY allocation request failed" "$err"
err=$(timeout 10 "${ssh_cmd[@]}" -N -o ExitOnForwardFailure=yes -R 0:127.0.0.1:22 </dev/null 2>&1)
contains "no remote forwarding" "forwarding failed" "$err"
err=$(timeout 10 "${ssh_cmd[@]}" -W 127.0.0.1:"$port" </dev/null 2>&1)
matches "no local forwarding" '*@(prohibited|open failed|forwarding)*' "$err"

finish
