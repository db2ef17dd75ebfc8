#!/usr/bin/env bash
# Several yoband on one database: one leads (advisory lock), the others wait; after kill -9 of the
# leader a standby takes over within 15 s, re-attaches to the jobs in flight, catches up, and no
# fire is run twice or dropped.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/assert.sh"
. "$here/lib/pg.sh"
. "$here/lib/daemon.sh"

yd_setup || bail "yd_setup"
yd_runbook fo 'schedule: { cron: "* * * * * *", timezone: Asia/Tokyo, catchup: all, catchup_window: 1h }
concurrency: allow
targets: { hosts: [local] }
steps:
  - name: work
    run: echo "start $YOBAN_RUN_ID"; sleep 1.5; echo "end $YOBAN_RUN_ID"'

leader_pid() { yd_sql "SELECT pid FROM yoban.heartbeats WHERE leader AND pid IN ($(IFS=,; echo "${YD_PIDS[*]}")) ORDER BY at DESC LIMIT 1"; }
n_locks() { yd_sql "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"; }

yd_start "$PG_BASE/a.log"; a=$YD_PID
yd_wait_sql "SELECT leader FROM yoban.heartbeats WHERE pid = $a" t 20; check "the first daemon leads" 0 "$?"
yd_start "$PG_BASE/b.log"; b=$YD_PID
yd_start "$PG_BASE/c.log"; c=$YD_PID
yd_wait_sql "SELECT count(*) FROM yoban.heartbeats WHERE pid IN ($b, $c) AND NOT leader" 2 20
check "the others wait as standbys" 0 "$?"
sleep 4
check "one advisory lock, one leader" "1:$a" "$(n_locks):$(leader_pid)"
! grep -q '^.*leader: holding' "$PG_BASE/b.log" "$PG_BASE/c.log"; check "standbys never led" 0 "$?"

for round in 1 2; do
  old=$(leader_pid)
  yd_wait_sql "SELECT count(*) > 0 FROM yoban.jobs WHERE state = 'running'" t 10
  yd_kill "$old"
  killed_at=$(date +%s)
  # The requirement: a standby leads within 15 s of the leader's death.
  new=
  for _ in $(seq 150); do
    new=$(yd_sql "SELECT pid FROM yoban.heartbeats WHERE leader AND pid <> $old AND at > to_timestamp($killed_at - 1) LIMIT 1")
    [ -n "$new" ] && break
    sleep 0.1
  done
  check_status "round $round: a standby took over within 15 s" 0 test -n "$new"
  check "round $round: still one lock" 1 "$(n_locks)"
  yd_start "$PG_BASE/extra$round.log"
  sleep 3
done
# A clean stop hands over too (the lock's session closes at once).
old=$(leader_pid)
stopped_at=$(date +%s)
yd_stop "$old"
yd_wait_sql "SELECT count(*) FROM yoban.heartbeats WHERE leader AND pid <> $old AND at >= to_timestamp($stopped_at)" 1 15
check "after SIGTERM a standby leads" 0 "$?"
check "the stopped daemon's heartbeat says it no longer leads" f "$(yd_sql "SELECT leader FROM yoban.heartbeats WHERE pid = $old")"

# Even two daemons that both believed they lead could not both claim a fire: the unique key.
check "a second claim of a claimed fire is refused" f "$(PGUSER=yoband yd_sql "SELECT claimed FROM yoban.yoban_claim_fire('fo', (SELECT max(scheduled_for) FROM yoban.runs WHERE runbook = 'fo'))")"

log=$(ls "$PG_BASE"/*.log)
grep -h 're-attached\|re-sent' $log >/dev/null; check "the new leaders re-attached to jobs in flight" 0 "$?"

rm -f "$YD_SITE/runbooks/fo.yaml"
for p in "${YD_PIDS[@]}"; do kill -HUP "$p" 2>/dev/null; done
yd_wait_sql "SELECT count(*) FROM yoban.runs WHERE state IN ('pending', 'queued', 'running', 'cancelling')" 0 60
check "nothing left in flight" 0 "$?"
check "no fire ran twice" 0 "$(yd_sql "SELECT count(*) FROM (SELECT 1 FROM yoban.runs GROUP BY runbook, scheduled_for, mode HAVING count(*) > 1) x")"
check "no fire was dropped" 0 "$(yd_sql "SELECT count(*) FROM generate_series((SELECT min(scheduled_for) FROM yoban.runs), (SELECT max(scheduled_for) FROM yoban.runs), interval '1 second') s LEFT JOIN yoban.runs r ON r.scheduled_for = s WHERE r.id IS NULL")"
check "every run succeeded" succeeded "$(yd_sql "SELECT string_agg(DISTINCT state::text, ',') FROM yoban.runs")"
check "every job ran once" 0 "$(yd_sql "SELECT count(*) FROM (SELECT 1 FROM yoban.jobs GROUP BY run_id, step_index HAVING count(*) > 1) x")"
check "each run's output is whole" 0 "$(yd_sql "SELECT count(*) FROM yoban.jobs j WHERE j.stdout_bytes <> (SELECT coalesce(sum(raw_len), 0) FROM yoban.output_chunks c WHERE c.job_id = j.id) OR j.stdout_sha256 IS NULL")"

finish
