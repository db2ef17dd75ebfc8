#!/usr/bin/env bash
# shellcheck disable=SC2034  # the SSHD_* variables are for the callers
# tests/integration/lib/sshd.sh: a real OpenSSH server on loopback, for tests and benchmarks.
#
# Source it, then:
#   sshd_start            generates host and user keys in a temp folder, writes a config (a free
#                         high port on 127.0.0.1, PidFile and authorized_keys in the folder,
#                         StrictModes no, no PAM), starts /usr/sbin/sshd -D and waits until it
#                         accepts. Stopped by sshd_stop, which sshd_start arranges on EXIT.
#   sshd_set_runner CMD   what the forced command runs for `yoban-runner serve ...` (default:
#                         "$YB_BIN/yoban-runner serve --state-dir $SSHD_DIR/state"); anything else
#                         the client asks for runs as `sh -c` (for the ssh baselines).
#   sshd_kill_connections kills every per-connection sshd process (not the listener): the TCP
#                         connection drops as if the network had failed.
# After sshd_start: SSHD_DIR, SSHD_PORT, SSHD_PID, SSHD_USER, SSHD_KEY (client private key),
# SSHD_FINGERPRINT ("SHA256:..." of the host key), SSHD_KNOWN_HOSTS, SSHD_RUNNER_PIDFILE (the pid
# of the latest runner started through ssh), SSHD_SSH (an ssh command line with all options).
# Works as root (creates /run/sshd, logs in as root) and as a normal user (logs in as itself).
#
# Run directly as `bash sshd.sh serve`, it starts a server, prints the variables as NAME=VALUE
# lines and "READY", and stops the server when its standard input closes (the C tests use this).

sshd_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

sshd_set_runner() {
  local cmd=$1
  cat > "$SSHD_DIR/forced.sh" <<EOS
#!/bin/sh
# The forced command: the runner for yoban, a shell for anything else.
export ASAN_OPTIONS='${SSHD_ASAN_OPTIONS:-detect_leaks=0}'
case "\$SSH_ORIGINAL_COMMAND" in
  *yoban-runner*serve*|'')
    echo \$\$ > '$SSHD_DIR/runner.pid'
    exec $cmd ;;
  *)
    exec /bin/sh -c "\$SSH_ORIGINAL_COMMAND" ;;
esac
EOS
  chmod 755 "$SSHD_DIR/forced.sh"
}

sshd_start() {
  local sshd=/usr/sbin/sshd
  [ -x "$sshd" ] || { echo "sshd.sh: $sshd missing: install openssh-server (deploy/install-deps.sh)" >&2; return 1; }
  SSHD_DIR=$(mktemp -d "${TMPDIR:-/tmp}/yb-sshd.XXXXXX")
  chmod 755 "$SSHD_DIR"
  SSHD_USER=$(id -un)
  if [ "$(id -u)" = 0 ]; then mkdir -p /run/sshd && chmod 755 /run/sshd; fi
  ssh-keygen -q -t ed25519 -N '' -C yb-test-host -f "$SSHD_DIR/ssh_host_ed25519_key"
  ssh-keygen -q -t ed25519 -N '' -C yb-test-user -f "$SSHD_DIR/id_ed25519"
  cp "$SSHD_DIR/id_ed25519.pub" "$SSHD_DIR/authorized_keys"
  chmod 600 "$SSHD_DIR/authorized_keys"
  mkdir -p "$SSHD_DIR/state" "$SSHD_DIR/home"
  SSHD_KEY=$SSHD_DIR/id_ed25519
  SSHD_FINGERPRINT=$(ssh-keygen -lf "$SSHD_DIR/ssh_host_ed25519_key.pub" | awk '{print $2}')
  SSHD_RUNNER_PIDFILE=$SSHD_DIR/runner.pid
  sshd_set_runner "${SSHD_RUNNER:-${YB_BIN:-}/yoban-runner serve --state-dir '$SSHD_DIR/state'}"

  for _ in 1 2 3 4 5; do
    SSHD_PORT=$(sshd_free_port)
    cat > "$SSHD_DIR/sshd_config" <<EOC
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $SSHD_DIR/ssh_host_ed25519_key
PidFile $SSHD_DIR/sshd.pid
AuthorizedKeysFile $SSHD_DIR/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
AllowUsers $SSHD_USER
ForceCommand $SSHD_DIR/forced.sh
MaxStartups 200
MaxSessions 200
ClientAliveInterval 0
# a clean HOME: the account's own shell start-up files (pyenv, ...) stay out of the measurements
SetEnv HOME=$SSHD_DIR/home
LogLevel ${SSHD_LOGLEVEL:-ERROR}
EOC
    "$sshd" -D -e -f "$SSHD_DIR/sshd_config" 2>>"$SSHD_DIR/sshd.log" &
    SSHD_PID=$!

    for _ in $(seq 1 100); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$SSHD_PORT") 2>/dev/null; then break; fi
      kill -0 "$SSHD_PID" 2>/dev/null || break
      sleep 0.05
    done
    if kill -0 "$SSHD_PID" 2>/dev/null; then break; fi
    SSHD_PID=
  done
  if [ -z "$SSHD_PID" ]; then
    echo "sshd.sh: sshd did not start:" >&2; cat "$SSHD_DIR/sshd.log" >&2; return 1
  fi
  echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$SSHD_DIR/ssh_host_ed25519_key.pub")" > "$SSHD_DIR/known_hosts"
  SSHD_KNOWN_HOSTS=$SSHD_DIR/known_hosts
  SSHD_SSH="ssh -p $SSHD_PORT -i $SSHD_KEY -o UserKnownHostsFile=$SSHD_KNOWN_HOSTS -o StrictHostKeyChecking=yes -o BatchMode=yes -o LogLevel=ERROR -l $SSHD_USER"
  trap sshd_stop EXIT
  # a killed test (ctest's timeout, Ctrl-C) still stops its sshd: signals become a normal exit,
  # which runs the EXIT trap (the caller's, if it set its own after this)
  trap 'exit 129' HUP
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# The sshd processes below the listener (one or two per connection).
sshd_connection_pids() {
  ps -e -o pid=,ppid=,comm= | awk -v root="$SSHD_PID" '
    { pid[NR]=$1; ppid[NR]=$2; comm[NR]=$3 }
    END {
      keep[root]=1; changed=1
      while (changed) { changed=0
        for (i in pid) if ((ppid[i] in keep) && !(pid[i] in keep) && comm[i] ~ /^sshd/) { keep[pid[i]]=1; changed=1 } }
      for (p in keep) if (p != root) print p
    }'
}

sshd_kill_connections() {
  local p
  for p in $(sshd_connection_pids); do kill -KILL "$p" 2>/dev/null || true; done
}

sshd_stop() {
  if [ -n "${SSHD_PID:-}" ]; then
    sshd_kill_connections
    kill "$SSHD_PID" 2>/dev/null || true
    wait "$SSHD_PID" 2>/dev/null || true
    SSHD_PID=
  fi
  if [ -n "${SSHD_DIR:-}" ] && [ -d "$SSHD_DIR" ]; then
    # runners and their jobs' supervisors outlive the connection; end the ones we started
    if [ -s "$SSHD_DIR/runner.pid" ]; then kill "$(cat "$SSHD_DIR/runner.pid")" 2>/dev/null || true; fi
    rm -rf "$SSHD_DIR"
    SSHD_DIR=
  fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ] && [ "${1:-}" = serve ]; then
  set -eu
  sshd_start
  for v in SSHD_DIR SSHD_PORT SSHD_PID SSHD_USER SSHD_KEY SSHD_FINGERPRINT SSHD_KNOWN_HOSTS SSHD_RUNNER_PIDFILE; do
    echo "$v=${!v}"
  done
  echo READY
  cat >/dev/null || true
  sshd_stop
fi
