#!/usr/bin/env bash
# Catch-up after downtime: with the daemon stopped for a few seconds while runbooks fire every
# second, `all` runs every missed fire, `latest` runs the last and records the others skipped,
# `none` records them all skipped, and catchup_window bounds how far back anything is run (the
# latest fire before it is recorded missed, so an outage is never passed over in silence).
# A runbook that never fired is not caught up from before it existed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/assert.sh"
. "$here/lib/pg.sh"
. "$here/lib/daemon.sh"

yd_setup || bail "yd_setup"
for mode in all latest none; do
  yd_runbook "cu-$mode" "schedule: { cron: \"* * * * * *\", timezone: Asia/Tokyo, catchup: $mode, catchup_window: 1h }
concurrency: allow
targets: { hosts: [local] }
steps:
  - name: s
    run: echo $mode"
done
yd_runbook cu-window 'schedule: { cron: "* * * * * *", timezone: Asia/Tokyo, catchup: all, catchup_window: 2s }
concurrency: allow
targets: { hosts: [local] }
steps:
  - name: s
    run: echo window'

yd_start
yd_wait_sql "SELECT count(DISTINCT runbook) FROM yoban.runs WHERE state = 'succeeded'" 4 20
yd_stop "$YD_PID"
down_from=$(yd_sql "SELECT extract(epoch FROM max(scheduled_for))::bigint FROM yoban.runs WHERE runbook = 'cu-all'")
sleep 6
yd_runbook cu-new 'schedule: { cron: "* * * * * *", timezone: Asia/Tokyo, catchup: all, catchup_window: 1h }
targets: { hosts: [local] }
steps:
  - name: s
    run: echo new'
yd_start
sleep 3
yd_wait_sql "SELECT count(*) FROM yoban.runs WHERE state IN ('pending', 'queued', 'running')" 0 20

missed() { # runbook state -> count of catch-up runs in that state
  yd_sql "SELECT count(*) FROM yoban.runs WHERE runbook = '$1' AND trigger = 'catchup' AND state = '$2'"
}
n_all=$(missed cu-all succeeded)
check_status "all: several fires were missed and all ran" 0 test "$n_all" -ge 4
check "all: they are the fires of the downtime" 0 "$(yd_sql "SELECT count(*) FROM yoban.runs WHERE runbook = 'cu-all' AND trigger = 'catchup' AND scheduled_for <= to_timestamp($down_from)")"
check "latest: only the last missed fire ran" 1 "$(missed cu-latest succeeded)"
check "latest: the others are recorded skipped" "$((n_all - 1))" "$(missed cu-latest skipped)"
check "latest: the one that ran is the last" t "$(yd_sql "SELECT max(scheduled_for) = (SELECT scheduled_for FROM yoban.runs WHERE runbook = 'cu-latest' AND trigger = 'catchup' AND state = 'succeeded') FROM yoban.runs WHERE runbook = 'cu-latest' AND trigger = 'catchup'")"
check "none: nothing ran, every missed fire skipped" "0:$n_all" "$(missed cu-none succeeded):$(missed cu-none skipped)"
check "none: the reason says so" "missed while no scheduler led (catchup: none)" "$(yd_sql "SELECT DISTINCT reason FROM yoban.runs WHERE runbook = 'cu-none' AND trigger = 'catchup'")"
w=$(yd_sql "SELECT count(*) FROM yoban.runs WHERE runbook = 'cu-window' AND trigger = 'catchup' AND state <> 'skipped'")
check_status "window: only fires inside catchup_window are caught up" 0 test "$w" -ge 1 -a "$w" -le 3 -a "$w" -lt "$n_all"
check "window: the fires before it are not passed over in silence: one is recorded missed" \
  "1|missed while no scheduler led (older than the catch-up window: this fire and any before it since the outage began)" \
  "$(yd_sql "SELECT count(*), max(reason) FROM yoban.runs WHERE runbook = 'cu-window' AND trigger = 'catchup' AND state = 'skipped'")"
check "window: it is the latest fire before the window, older than every one caught up" t \
  "$(yd_sql "SELECT (SELECT scheduled_for FROM yoban.runs WHERE runbook = 'cu-window' AND trigger = 'catchup' AND state = 'skipped') < (SELECT min(scheduled_for) FROM yoban.runs WHERE runbook = 'cu-window' AND trigger = 'catchup' AND state <> 'skipped')")"
grep -q "catch-up: runbook 'cu-window' missed .* older than its catch-up window" "$PG_BASE/yoband.log"
check "window: the log counts the fires older than the window" 0 "$?"
check "every fire has at most one run" 0 "$(yd_sql "SELECT count(*) FROM (SELECT 1 FROM yoban.runs GROUP BY runbook, scheduled_for, mode HAVING count(*) > 1) x")"
check "no gap for all, latest and none" 0 "$(for rb in cu-all cu-latest cu-none; do yd_sql "SELECT count(*) FROM generate_series((SELECT min(scheduled_for) FROM yoban.runs WHERE runbook = '$rb'), (SELECT max(scheduled_for) FROM yoban.runs WHERE runbook = '$rb'), interval '1 second') s LEFT JOIN yoban.runs r ON r.runbook = '$rb' AND r.scheduled_for = s WHERE r.id IS NULL"; done | sort -u)"
check "a new runbook is not caught up from before it existed" 0 "$(yd_sql "SELECT count(*) FROM yoban.runs WHERE runbook = 'cu-new' AND trigger = 'catchup'")"
check "but it fires from now on" t "$(yd_sql "SELECT count(*) > 0 FROM yoban.runs WHERE runbook = 'cu-new' AND trigger = 'schedule'")"
grep -q "catch-up: runbook 'cu-all' missed" "$PG_BASE/yoband.log"; check "catch-up logged" 0 "$?"

finish
