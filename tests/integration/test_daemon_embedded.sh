#!/usr/bin/env bash
# yoband with the embedded cluster (`yoban init`): the daemon starts the stopped cluster itself,
# logs in as its own role 'yoband', and fires a runbook there.
set -u
B=${YB_BIN:?}
PSQL=${PG_BINDIR:-/usr/lib/postgresql/15/bin}/psql
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/assert.sh"
. "$here/lib/daemon.sh"

base=$(mktemp -d "${TMPDIR:-/tmp}/yb-emb.XXXXXX")
chmod 755 "$base"
st=$base/state
cleanup() {
  yd_stop_all
  "$B/yoban" db stop --config "$st/yoban.yaml" >/dev/null 2>&1
  rm -rf "$base"
}
trap cleanup EXIT

"$B/yoban" init --state-dir "$st" --stop >"$base/init.log" 2>&1 || { cat "$base/init.log"; bail "yoban init --stop"; }
cat >"$st/inventory.yaml" <<YAML
hosts:
  local: { transport: local, environment: production }
YAML
echo "inventory: \"$st/inventory.yaml\"" >>"$st/yoban.yaml"
cat >"$st/runbooks/emb.yaml" <<'YAML'
version: 1
name: emb
kind: batch
schedule: { cron: "* * * * * *", timezone: Asia/Tokyo }
targets: { hosts: [local] }
steps:
  - name: s
    run: echo "embedded $YOBAN_RUN_ID"
YAML
q() { "$PSQL" -X -q -At -d "host=$st/run dbname=yoban" -c "$1" 2>/dev/null; }

YOBAN_RUNNER=$B/yoban-runner yd_start "$base/yoband.log" --config "$st/yoban.yaml"
ydpid=$YD_PID
got=
for _ in $(seq 200); do
  got=$(q "SELECT count(*) >= 2 FROM yoban.runs WHERE runbook = 'emb' AND state = 'succeeded'")
  [ "$got" = t ] && break
  sleep 0.1
done
check "the daemon started the stopped cluster and fired the runbook" t "$got"
check "it logged in as its own role" yoband "$(q "SELECT DISTINCT requested_by FROM yoban.runs")"
check "its heartbeat says it leads" t "$(q "SELECT leader FROM yoban.heartbeats WHERE pid = $ydpid")"
finish
