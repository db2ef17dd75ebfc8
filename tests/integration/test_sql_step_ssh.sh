#!/usr/bin/env bash
# The sql step on a runner reached over SSH (a real sshd on loopback): the patch runs on the
# target host's runner, the SSH connections are cut while it runs and yoband reconnects and
# re-attaches, and the before/after evidence arrives with the exit, whole, digests matching what
# `yoban artifact` gives. Then the step's process is killed on the target after the patch: the
# table is untouched and the record says rolled back, settled by the runner over there.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/assert.sh"
. "$here/lib/pg.sh"
. "$here/lib/sshd.sh"
. "$here/lib/daemon.sh"
yoban=$YB_BIN/yoban

yd_setup || bail "yd_setup"
sshd_start || bail "sshd starts"
both_down() { yd_stop_all; sshd_stop; }
# shellcheck disable=SC2034 # read by lib/pg.sh on exit
PG_ON_EXIT=both_down
trap pg__on_exit EXIT

cat >>"$YD_SITE/yoban.yaml" <<YAML
ssh:
  key: $SSHD_KEY
YAML
cat >>"$YD_SITE/inventory.yaml" <<YAML
  resident-db-01: { address: 127.0.0.1, port: $SSHD_PORT, user: $SSHD_USER, environment: production, host_key: "$SSHD_FINGERPRINT", runner: "$YB_BIN/yoban-runner" }
YAML
mkdir -p "$YD_SITE/procedures"
echo "# 作業手順書" >"$YD_SITE/procedures/patch.md"

pg_psql -c "CREATE DATABASE resident" || bail "create database resident"
rsql() { PGDATABASE=resident pg_psql -At -c "$1"; }
rsql "CREATE TABLE residents (id integer PRIMARY KEY, address_code text NOT NULL)" || bail "table"
reset_data() {
  rsql "TRUNCATE residents; INSERT INTO residents SELECT i, CASE WHEN i <= 12 THEN '0123' ELSE '0999' END
        FROM generate_series(1, 20) i" >/dev/null
}
reset_data
# the service file lives on the target host (here: the same machine, read by the runner there)
cat >"$SSHD_DIR/pg_service.conf" <<EOF
[resident]
host=$PGHOST
port=$PGPORT
dbname=resident
user=postgres
EOF
chmod 644 "$SSHD_DIR/pg_service.conf"

patch_runbook() { # NAME BEFORE AFTER
  cat >"$YD_SITE/runbooks/$1.yaml" <<EOF
version: 1
name: $1
kind: data-patch
approval: { approvers: 1, lead_time: 0s, procedure: ../procedures/patch.md }
targets: { hosts: [resident-db-01] }
steps:
  - name: fix
    env: { PGSERVICEFILE: $SSHD_DIR/pg_service.conf }
    sql:
      dsn: "service=resident"
      before: "$2"
      patch: "UPDATE residents SET address_code = '0132' WHERE address_code = '0123'"
      expect_rows: 12
      after: "$3"
EOF
}
patch_runbook patch-remote \
  "SELECT id, address_code FROM residents, pg_sleep(3) WHERE address_code = '0123' ORDER BY id" \
  "SELECT id, address_code FROM residents WHERE address_code = '0132' ORDER BY id"
patch_runbook patch-remote-kill \
  "SELECT id, address_code FROM residents WHERE address_code = '0123' ORDER BY id" \
  "SELECT id, address_code FROM residents, pg_sleep(60) WHERE address_code = '0132' ORDER BY id"

yd_start
# A data patch needs approval (docs/approvals.md): alice requests it, bob approves it (lead time
# 0s), and yoband starts it; prints the run's id.
pg_create_login bob yoban_approver >/dev/null 2>&1 || true
trigger() {
  local run
  # the request pins the revision yoband loaded: wait until it has
  yd_wait_sql "SELECT count(*) > 0 FROM yoban.runbook_revisions WHERE runbook = '$1'" t 30 >/dev/null || return 1
  run=$(PGUSER=alice yd_sql "SELECT yoban.yoban_request('$1', '{}', NULL, 'test of the sql step')") || return 1
  PGUSER=bob yd_sql "SELECT yoban.yoban_approve($run)" >/dev/null || return 1
  yd_wait_sql "SELECT state <> 'awaiting_approval' FROM yoban.runs WHERE id = $run" t 20 >/dev/null || return 1
  echo "$run"
}
wait_query() {
  yd_wait_sql "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = 'resident' AND state = 'active' AND query LIKE '$1'" t 30
}
patched() { rsql "SELECT count(*) FROM residents WHERE address_code = '0132'"; }
outcome() { yd_sql "SELECT s.outcome || '|' || s.settled FROM yoban.sql_results s JOIN yoban.jobs j ON j.id = s.job_id WHERE j.run_id = $1"; }

# ---- the link cut while the patch runs ----
run=$(trigger patch-remote)
wait_query '%pg_sleep(3)%'; check "the before query runs on the target" 0 "$?"
sshd_kill_connections
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $run" succeeded 60
check "the run succeeded across the cut link" 0 "$?"
check "patched once" 12 "$(patched)"
check "the record: committed" "committed|false" "$(outcome "$run")"
grep -q "reconnected to the runner on host 'resident-db-01'" "$PG_BASE/yoband.log"
check "the reconnect is logged" 0 "$?"
for name in before after; do
  sha=$(yd_sql "SELECT a.sha256 FROM yoban.artifacts a JOIN yoban.jobs j ON j.id = a.job_id WHERE j.run_id = $run AND a.name = '$name'")
  got=$("$yoban" artifact "$run" fix "$name" | sha256sum | cut -d' ' -f1)
  check "$name: yoban artifact's bytes match the recorded digest" "$sha" "$got"
  contains "$name: yoban show lists it" "artifact $name" "$("$yoban" show "$run")"
done
check "before: the 12 rows it saw, in CSV" "$(printf 'id,address_code\r\n1,0123\r')" "$("$yoban" artifact "$run" fix before | head -2)"

# ---- the step's process killed on the target after the patch ----
reset_data
run=$(trigger patch-remote-kill)
wait_query '%pg_sleep(60)%'; check "the after query runs on the target" 0 "$?"
pid=$(pgrep -f "yoban-runner step sql $SSHD_DIR/" | head -1)
check "the step runs under the remote runner's state folder" 0 "$([ -n "$pid" ]; echo $?)"
[ -n "$pid" ] && kill -KILL "$pid"
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $run" failed 90
check "the run failed" 0 "$?"
check "  the table is untouched" 0 "$(patched)"
check "  the record: rolled back, settled on the target" "rolled back|true" "$(outcome "$run")"

finish
