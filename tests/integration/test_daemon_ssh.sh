#!/usr/bin/env bash
# yoband dispatching over the ssh transport to a real sshd on loopback (host key pinned in the
# inventory): a scheduled runbook and a triggered one run there, their output is stored whole;
# the TCP connections are killed under a running job and the daemon reconnects, re-attaches at
# its offset and stores every byte once; a host whose pinned key does not match is refused and
# its job fails with the reason instead of hanging.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/assert.sh"
. "$here/lib/pg.sh"
. "$here/lib/sshd.sh"
. "$here/lib/daemon.sh"

stored_stdout() {
  yd_sql "SELECT encode(zstd, 'hex') FROM yoban.output_chunks WHERE job_id = $1 AND stream = 'stdout' ORDER BY \"offset\"" |
    tr -d '\n' | xxd -r -p | zstd -dcq
}

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
  remote: { address: 127.0.0.1, port: $SSHD_PORT, user: $SSHD_USER, environment: production, host_key: "$SSHD_FINGERPRINT", runner: "$YB_BIN/yoban-runner" }
  impostor: { address: 127.0.0.1, port: $SSHD_PORT, user: $SSHD_USER, environment: production, host_key: "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", runner: "$YB_BIN/yoban-runner" }
YAML
yd_runbook remote-tick 'schedule: { cron: "*/2 * * * * *", timezone: Asia/Tokyo, catchup: all, catchup_window: 1h }
concurrency: allow
targets: { hosts: [remote] }
steps:
  - name: where
    run: echo "on $YOBAN_HOST run $YOBAN_RUN_ID"'
yd_runbook remote-long 'targets: { hosts: [remote] }
steps:
  - name: talk
    run: for i in $(seq 1 30); do echo "line $i"; sleep 0.2; done'
yd_runbook wrong-key 'targets: { hosts: [impostor] }
steps:
  - name: x
    run: echo never'

yd_start
yd_wait_sql "SELECT count(*) >= 2 FROM yoban.runs WHERE runbook = 'remote-tick' AND state = 'succeeded'" t 60
check "scheduled runs over ssh" 0 "$?"
run=$(yd_sql "SELECT min(id) FROM yoban.runs WHERE runbook = 'remote-tick' AND state = 'succeeded'")
job=$(yd_sql "SELECT id FROM yoban.jobs WHERE run_id = $run")
check "their output is stored" "on remote run $run" "$(stored_stdout "$job")"

req=$(PGUSER=alice yd_sql "SELECT yoban.yoban_trigger('remote-long')")
yd_wait_sql "SELECT ok FROM yoban.requests WHERE id = $req" t 10
run=$(yd_sql "SELECT result->>'run' FROM yoban.requests WHERE id = $req")
yd_wait_sql "SELECT count(*) > 0 FROM yoban.output_chunks c JOIN yoban.jobs j ON j.id = c.job_id WHERE j.run_id = $run" t 20
sshd_kill_connections
sleep 1.5
sshd_kill_connections
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $run" succeeded 60
check "a job survives dropped ssh connections" 0 "$?"
job=$(yd_sql "SELECT id FROM yoban.jobs WHERE run_id = $run")
want=$(seq 1 30 | sed 's/^/line /' | sha256sum | cut -d' ' -f1)
check "every byte stored once" "$want" "$(stored_stdout "$job" | sha256sum | cut -d' ' -f1)"
check "the digest matches" "$want" "$(yd_sql "SELECT stdout_sha256 FROM yoban.jobs WHERE id = $job")"
grep -q "reconnected to the runner on host 'remote'" "$PG_BASE/yoband.log"; check "the reconnect is logged" 0 "$?"

req=$(PGUSER=alice yd_sql "SELECT yoban.yoban_trigger('wrong-key')")
yd_wait_sql "SELECT ok FROM yoban.requests WHERE id = $req" t 10
run=$(yd_sql "SELECT result->>'run' FROM yoban.requests WHERE id = $req")
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $run" failed 60
check "a host with the wrong pinned key is refused" 0 "$?"
check "the job says why" t "$(yd_sql "SELECT error LIKE '%unreachable%' FROM yoban.jobs WHERE run_id = $run")"

finish
