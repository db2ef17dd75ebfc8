#!/usr/bin/env bash
# yoband killed with SIGKILL at random moments, over and over, while runbooks fire every second:
# afterwards every fire in the covered period has exactly one run (catchup: all), every finished
# job's output and exit are stored (digests compared), nothing is lost and no run stays in flight
# after a final clean reconcile. Then PostgreSQL is stopped and restarted under a running job:
# the daemon reconnects, re-attaches and stores all of it.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/assert.sh"
. "$here/lib/pg.sh"
. "$here/lib/daemon.sh"

CYCLES=${YD_CRASH_CYCLES:-50}

stored_stdout() {
  yd_sql "SELECT encode(zstd, 'hex') FROM yoban.output_chunks WHERE job_id = $1 AND stream = 'stdout' ORDER BY \"offset\"" |
    tr -d '\n' | xxd -r -p | zstd -dcq
}

yd_setup || bail "yd_setup"

# Each job writes output over about a second, so kills land before, during and after jobs.
yd_runbook every 'schedule: { cron: "* * * * * *", timezone: Asia/Tokyo, catchup: all, catchup_window: 1h }
concurrency: allow
targets: { hosts: [local] }
steps:
  - name: produce
    run: for i in 1 2 3 4 5; do head -c 3000 /dev/urandom | od -An -tx1; sleep 0.2; done; echo "done $YOBAN_RUN_ID"
  - name: finish
    run: echo "finish $YOBAN_RUN_ID"'
yd_runbook quick 'schedule: { cron: "* * * * * *", timezone: Asia/Tokyo, catchup: all, catchup_window: 1h }
concurrency: allow
targets: { hosts: [local] }
steps:
  - name: one
    argv: [/bin/echo, quick]'

alive=0
for c in $(seq "$CYCLES"); do
  yd_start "$PG_BASE/crash.log"
  sleep "$((RANDOM % 3)).$((RANDOM % 10))"
  yd_running "$YD_PID" && alive=$((alive + 1))
  yd_kill "$YD_PID"
  # Down for a moment, now and then for whole seconds: fires are missed and caught up.
  if [ $((c % 10)) -eq 0 ]; then sleep 2.2; else sleep "0.$((RANDOM % 5))"; fi
done
check "$CYCLES kill -9 cycles, the daemon running at each kill" "$CYCLES" "$alive"

# The final clean reconcile: no more fires (the runbooks go), only what is in flight.
rm -f "$YD_SITE/runbooks/every.yaml" "$YD_SITE/runbooks/quick.yaml"
yd_start "$PG_BASE/final.log"
yd_wait_sql "SELECT count(*) FROM yoban.runs WHERE state IN ('pending', 'queued', 'running', 'cancelling')" 0 60
check "no run left in flight after the final reconcile" 0 "$?"

for rb in every quick; do
  check "$rb: fires were claimed" t "$(yd_sql "SELECT count(*) > $CYCLES FROM yoban.runs WHERE runbook = '$rb'")"
  check "$rb: no fire has two runs" 0 "$(yd_sql "SELECT count(*) FROM (SELECT 1 FROM yoban.runs WHERE runbook = '$rb' GROUP BY scheduled_for, mode HAVING count(*) > 1) x")"
  check "$rb: no fire in the covered period is missing" 0 "$(yd_sql "SELECT count(*) FROM generate_series((SELECT min(scheduled_for) FROM yoban.runs WHERE runbook = '$rb'), (SELECT max(scheduled_for) FROM yoban.runs WHERE runbook = '$rb'), interval '1 second') s LEFT JOIN yoban.runs r ON r.runbook = '$rb' AND r.scheduled_for = s WHERE r.id IS NULL")"
done
check "catch-up fires were recorded as such" t "$(yd_sql "SELECT count(*) > 0 FROM yoban.runs WHERE trigger = 'catchup'")"
check "every run succeeded (none lost)" succeeded "$(yd_sql "SELECT coalesce(string_agg(DISTINCT state::text, ','), '') FROM yoban.runs")"
check "one job per step, no second attempt or host" 0 "$(yd_sql "SELECT count(*) FROM (SELECT 1 FROM yoban.jobs GROUP BY run_id, step_index HAVING count(*) > 1) x")"
check "every run has all its jobs" 0 "$(yd_sql "SELECT count(*) FROM yoban.runs r WHERE (SELECT count(*) FROM yoban.jobs j WHERE j.run_id = r.id) <> CASE r.runbook WHEN 'every' THEN 2 ELSE 1 END")"
check "every job has its exit stored" 0 "$(yd_sql "SELECT count(*) FROM yoban.jobs WHERE state <> 'succeeded' OR exit_status IS DISTINCT FROM 0 OR stdout_sha256 IS NULL OR ended_at IS NULL")"
check "stored bytes add up for every job" 0 "$(yd_sql "SELECT count(*) FROM yoban.jobs j WHERE j.stdout_bytes + j.stderr_bytes <> coalesce((SELECT sum(raw_len) FROM yoban.output_chunks c WHERE c.job_id = j.id), 0)")"
check "chunks are contiguous (no overlap, no hole)" 0 "$(yd_sql "SELECT count(*) FROM (SELECT \"offset\", raw_len, lag(\"offset\" + raw_len, 1, 0::bigint) OVER (PARTITION BY job_id ORDER BY \"offset\") AS prev_end FROM yoban.output_chunks) x WHERE \"offset\" <> prev_end")"
bad=0
for job in $(yd_sql "SELECT id FROM yoban.jobs ORDER BY id"); do
  want=$(yd_sql "SELECT stdout_sha256 FROM yoban.jobs WHERE id = $job")
  got=$(stored_stdout "$job" | sha256sum | cut -d' ' -f1)
  [ "$want" = "$got" ] || { bad=$((bad + 1)); echo "  job $job: stored $got, runner $want" >&2; }
done
check "every stored stdout matches the runner's digest" 0 "$bad"
check "every 'every' run printed its id last" "$(for job in $(yd_sql "SELECT j.id || ':' || j.run_id FROM yoban.jobs j JOIN yoban.runs r ON r.id = j.run_id WHERE r.runbook = 'every' AND j.step = 'produce'"); do
       [ "$(stored_stdout "${job%%:*}" | tail -1)" = "done ${job#*:}" ] && echo y; done | wc -l)" \
  "$(yd_sql "SELECT count(*) FROM yoban.runs WHERE runbook = 'every'")"
grep -q 're-attached' "$PG_BASE/crash.log"; check "jobs were re-attached after kills" 0 "$?"

# ---- PostgreSQL stopped and started under a running job ----
yd_runbook longout 'targets: { hosts: [local] }
steps:
  - name: talk
    run: for i in $(seq 1 40); do echo "line $i"; sleep 0.2; done'
yd_runbook beat 'schedule: { cron: "* * * * * *", timezone: Asia/Tokyo, catchup: all, catchup_window: 1h }
targets: { hosts: [local] }
steps:
  - name: b
    run: echo beat'
kill -HUP "$YD_PID"
sleep 1
req=$(PGUSER=alice yd_sql "SELECT yoban.yoban_trigger('longout')")
yd_wait_sql "SELECT ok FROM yoban.requests WHERE id = $req" t 10
run=$(yd_sql "SELECT result->>'run' FROM yoban.requests WHERE id = $req")
yd_wait_sql "SELECT state FROM yoban.jobs WHERE run_id = $run" running 10
sleep 1
pg_run_as_server "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null
sleep 4
pg_run_as_server "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w start >/dev/null
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $run" succeeded 60
check "the run under a database restart succeeded" 0 "$?"
job=$(yd_sql "SELECT id FROM yoban.jobs WHERE run_id = $run")
check "all of its output was stored" "$(seq 1 40 | sed 's/^/line /' | sha256sum | cut -d' ' -f1)" "$(stored_stdout "$job" | sha256sum | cut -d' ' -f1)"
check "and its digest matches" "$(seq 1 40 | sed 's/^/line /' | sha256sum | cut -d' ' -f1)" "$(yd_sql "SELECT stdout_sha256 FROM yoban.jobs WHERE id = $job")"
grep -q 'database connection lost' "$PG_BASE/final.log"; check "the loss was logged" 0 "$?"
check_status "the daemon lived through it" 0 yd_running "$YD_PID"
sleep 2
check "beat: fires during the outage were caught up, once each" "" "$(yd_sql "SELECT count(*) FROM generate_series((SELECT min(scheduled_for) FROM yoban.runs WHERE runbook = 'beat'), (SELECT max(scheduled_for) FROM yoban.runs WHERE runbook = 'beat'), interval '1 second') s LEFT JOIN yoban.runs r ON r.runbook = 'beat' AND r.scheduled_for = s GROUP BY s HAVING count(r.id) <> 1")"

yd_stop_all
if [ "$ASSERT_FAILED" -ne 0 ]; then
  echo "--- runs that did not succeed, their jobs, and what the logs say about them"
  for r in $(yd_sql "SELECT id FROM yoban.runs WHERE state <> 'succeeded' AND runbook <> 'beat'"); do
    yd_sql "SELECT id, runbook, trigger, state, reason FROM yoban.runs WHERE id = $r"
    yd_sql "SELECT id, step, attempt, state, runner_job_id, error, exit_status FROM yoban.jobs WHERE run_id = $r"
    grep -h "run $r\b\|r$r-" "$PG_BASE"/*.log | head -30
  done
fi
finish
