#!/usr/bin/env bash
# yoband against a real PostgreSQL and real local runners: second-granularity fires, stored
# output and digests, parameters as environment, operator requests (trigger, cancel, rerun,
# reload) through the SQL functions as an operator role, retries, timeouts, on_failure,
# unsupported step kinds, concurrency, locks, maintenance windows, and a runbook edited mid-run.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/assert.sh"
. "$here/lib/pg.sh"
. "$here/lib/daemon.sh"

# ---- usage (yoband in the foreground, ending at once) ----
contains "--help" "usage: yoband" "$("$YB_BIN/yoband" --help)"
"$YB_BIN/yoband" --bogus >/dev/null 2>&1; check "unknown option is a usage error" 2 "$?"
YOBAN_CONFIG=/nonexistent/yoban.yaml "$YB_BIN/yoband" >/dev/null 2>&1
check "a missing config is a usage error" 2 "$?"

yd_setup || bail "yd_setup"

# Output and digest of a job's stdout, from the stored chunks.
stored_stdout() {
  yd_sql "SELECT encode(zstd, 'hex') FROM yoban.output_chunks WHERE job_id = $1 AND stream = 'stdout' ORDER BY \"offset\"" |
    tr -d '\n' | xxd -r -p | zstd -dcq
}
digest_ok() {
  local want got
  want=$(yd_sql "SELECT stdout_sha256 FROM yoban.jobs WHERE id = $1")
  got=$(stored_stdout "$1" | sha256sum | cut -d' ' -f1)
  [ -n "$want" ] && [ "$want" = "$got" ] || { echo "  job $1: stored $got, runner said $want" >&2; return 1; }
}

yd_runbook tick 'schedule: { cron: "* * * * * *", timezone: Asia/Tokyo, catchup: all, catchup_window: 1h }
concurrency: allow
targets: { hosts: [local] }
params:
  day: { default: "d={{scheduled_date}}" }
steps:
  - name: say
    run: echo "tick run=$YOBAN_RUN_ID at=$YOBAN_SCHEDULED_AT book=$YOBAN_RUNBOOK step=$YOBAN_STEP day=$YOBAN_PARAM_DAY"; seq 1 2000'
yd_runbook manual 'targets: { hosts: [local], staging_hosts: [local-stg] }
params:
  who: { default: nobody }
steps:
  - name: greet
    argv: [/bin/sh, -c, "echo hello $YOBAN_PARAM_WHO; echo warn >&2"]
  - name: second
    run: echo second'
yd_runbook flaky 'targets: { hosts: [local] }
retry: { attempts: 2, delay: 1s }
steps:
  - name: fail
    run: echo try $YOBAN_ATTEMPT; exit 3
    on_failure: continue
  - name: after
    run: echo after'
yd_runbook slow 'targets: { hosts: [local] }
steps:
  - name: nap
    run: sleep 30
  - name: never
    run: echo never'
yd_runbook short 'targets: { hosts: [local] }
timeout: 1s
steps:
  - name: nap
    run: sleep 20'
yd_runbook backup 'kind: backup
targets: { hosts: [local] }
steps:
  - name: share
    backup: { source: '"$PG_BASE"'/site/runbooks, repository: '"$PG_BASE"'/backup-repo }'
sed -i 's/^kind: batch$//' "$YD_SITE/runbooks/backup.yaml"

yd_start
yd_wait_sql "SELECT count(*) >= 4 FROM yoban.runs WHERE runbook = 'tick' AND state = 'succeeded'" t 30
check "second-granularity fires ran" 0 "$?"

# Every claimed fire of tick is on a whole second, once, never started before it was due.
check "one run per fire" 0 "$(yd_sql "SELECT count(*) FROM (SELECT scheduled_for FROM yoban.runs WHERE runbook = 'tick' GROUP BY scheduled_for HAVING count(*) > 1) x")"
check "fires on whole seconds" 0 "$(yd_sql "SELECT count(*) FROM yoban.runs WHERE runbook = 'tick' AND extract(milliseconds FROM scheduled_for)::int % 1000 <> 0")"
check "no run started before its fire" 0 "$(yd_sql "SELECT count(*) FROM yoban.runs WHERE runbook = 'tick' AND started_at < scheduled_for")"
first=$(yd_sql "SELECT min(id) FROM yoban.runs WHERE runbook = 'tick' AND state = 'succeeded'")
job=$(yd_sql "SELECT id FROM yoban.jobs WHERE run_id = $first")
out=$(stored_stdout "$job" | head -1)
day=$(TZ=Asia/Tokyo date -d "@$(yd_sql "SELECT extract(epoch FROM scheduled_for)::bigint FROM yoban.runs WHERE id = $first")" +%F)
matches "environment reaches the step" "tick run=$first at=*+09:00 book=tick step=say day=d=$day" "$out"
check_status "stored stdout matches the runner's digest" 0 digest_ok "$job"
# The runner id: positions, the site's random id and the run's random nonce (never guessable).
check "job row is complete" "succeeded|0|r$first-s0-a1-h0-$(yd_sql "SELECT id FROM yoban.site")-$(yd_sql "SELECT nonce FROM yoban.runs WHERE id = $first")|$(stored_stdout "$job" | wc -c)" \
  "$(yd_sql "SELECT state, exit_status, runner_job_id, stdout_bytes FROM yoban.jobs WHERE id = $job")"
check "the runner's spec digest is kept with the job" t "$(yd_sql "SELECT spec_sha256 ~ '^[0-9a-f]{64}$' FROM yoban.jobs WHERE id = $job")"
check "transitions written" "->pending,pending>running,running>succeeded" \
  "$(yd_sql "SELECT string_agg(coalesce(from_state::text, '-') || '>' || to_state, ',' ORDER BY id) FROM yoban.run_transitions WHERE run_id = $first")"
check "heartbeat row" 1 "$(yd_sql "SELECT count(*) FROM yoban.heartbeats WHERE leader AND pid = $YD_PID")"

# ---- trigger as an operator ----
req=$(PGUSER=alice yd_sql "SELECT yoban.yoban_trigger('manual', '{\"who\": \"yamada\"}')")
yd_wait_sql "SELECT ok FROM yoban.requests WHERE id = $req" t 10; check "trigger request handled" 0 "$?"
run=$(yd_sql "SELECT result->>'run' FROM yoban.requests WHERE id = $req")
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $run" succeeded 20; check "triggered run succeeded" 0 "$?"
check "triggered run is manual, by alice" "manual|alice|$req" "$(yd_sql "SELECT trigger, requested_by, request_id FROM yoban.runs WHERE id = $run")"
j1=$(yd_sql "SELECT id FROM yoban.jobs WHERE run_id = $run AND step = 'greet'")
check "parameter given at trigger time" "hello yamada" "$(stored_stdout "$j1")"
check "stderr stored too" 5 "$(yd_sql "SELECT stderr_bytes FROM yoban.jobs WHERE id = $j1")"
check "both steps ran" "greet:succeeded,second:succeeded" "$(yd_sql "SELECT string_agg(step || ':' || state, ',' ORDER BY step_index) FROM yoban.jobs WHERE run_id = $run")"

req=$(PGUSER=alice yd_sql "SELECT yoban.yoban_trigger('manual', '{}', true)")
yd_wait_sql "SELECT ok FROM yoban.requests WHERE id = $req" t 10
run=$(yd_sql "SELECT result->>'run' FROM yoban.requests WHERE id = $req")
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $run" succeeded 20
check "staging trigger runs on staging_hosts" "staging:local-stg" "$(yd_sql "SELECT mode || ':' || string_agg(DISTINCT host, ',') FROM yoban.jobs j JOIN yoban.runs r ON r.id = j.run_id WHERE r.id = $run GROUP BY mode")"

req=$(PGUSER=alice yd_sql "SELECT yoban.yoban_trigger('no-such-book')")
yd_wait_sql "SELECT ok FROM yoban.requests WHERE id = $req" f 10; check "unknown runbook refused" 0 "$?"
req=$(PGUSER=alice yd_sql "SELECT yoban.yoban_trigger('manual', '{\"bogus\": 1}')")
yd_wait_sql "SELECT ok FROM yoban.requests WHERE id = $req" f 10; check "unknown parameter refused" 0 "$?"
check "refusal says why" "unknown parameter 'bogus' for runbook 'manual'" "$(yd_sql "SELECT result->>'error' FROM yoban.requests WHERE id = $req")"
check "a reviewer cannot trigger" 1 "$(PGUSER=yoband yd_sql "SELECT yoban.yoban_trigger('manual')" 2>&1 | grep -c 'permission denied')"

# ---- retries and on_failure: continue ----
req=$(PGUSER=alice yd_sql "SELECT yoban.yoban_trigger('flaky')")
yd_wait_sql "SELECT ok FROM yoban.requests WHERE id = $req" t 10
run=$(yd_sql "SELECT result->>'run' FROM yoban.requests WHERE id = $req")
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $run" failed 20; check "a failed step fails the run" 0 "$?"
check "two attempts, then the next step" "fail#1:failed:3,fail#2:failed:3,after#1:succeeded:0" \
  "$(yd_sql "SELECT string_agg(step || '#' || attempt || ':' || state || ':' || coalesce(exit_status::text, '-'), ',' ORDER BY step_index, attempt) FROM yoban.jobs WHERE run_id = $run")"
check "run reason names the step" "step 'fail' failed on host 'local'" "$(yd_sql "SELECT reason FROM yoban.runs WHERE id = $run")"

# ---- timeout (the runner enforces it) ----
req=$(PGUSER=alice yd_sql "SELECT yoban.yoban_trigger('short')")
yd_wait_sql "SELECT ok FROM yoban.requests WHERE id = $req" t 10
run=$(yd_sql "SELECT result->>'run' FROM yoban.requests WHERE id = $req")
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $run" timed_out 30; check "a step past its timeout times the run out" 0 "$?"

# ---- a built-in step kind (the runner's step mode; tests/integration/test_backup_daemon.sh has more) ----
req=$(PGUSER=alice yd_sql "SELECT yoban.yoban_trigger('backup')")
yd_wait_sql "SELECT ok FROM yoban.requests WHERE id = $req" t 10
run=$(yd_sql "SELECT result->>'run' FROM yoban.requests WHERE id = $req")
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $run" succeeded 30; check "a backup step runs on the runner" 0 "$?"
check "and its evidence is recorded" "backup|t" \
  "$(yd_sql "SELECT event, ok FROM yoban.backup_evidence WHERE run_id = $run")"

# ---- cancel, then rerun ----
req=$(PGUSER=alice yd_sql "SELECT yoban.yoban_trigger('slow')")
yd_wait_sql "SELECT ok FROM yoban.requests WHERE id = $req" t 10
run=$(yd_sql "SELECT result->>'run' FROM yoban.requests WHERE id = $req")
yd_wait_sql "SELECT state FROM yoban.jobs WHERE run_id = $run" running 10
creq=$(PGUSER=alice yd_sql "SELECT yoban.yoban_cancel($run)")
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $run" cancelled 20; check "cancel stops a running run" 0 "$?"
check "the job was cancelled on the runner" cancelled "$(yd_sql "SELECT state FROM yoban.jobs WHERE run_id = $run")"
check "the history shows cancelling" 1 "$(yd_sql "SELECT count(*) FROM yoban.run_transitions WHERE run_id = $run AND to_state = 'cancelling' AND reason = 'cancelled by alice'")"
creq=$(PGUSER=alice yd_sql "SELECT yoban.yoban_cancel($run)")
yd_wait_sql "SELECT ok FROM yoban.requests WHERE id = $creq" f 10; check "cancel of a finished run is refused" 0 "$?"
rreq=$(PGUSER=alice yd_sql "SELECT yoban.yoban_rerun($first, 'say')")
yd_wait_sql "SELECT ok FROM yoban.requests WHERE id = $rreq" t 10
rrun=$(yd_sql "SELECT result->>'run' FROM yoban.requests WHERE id = $rreq")
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $rrun" succeeded 20; check "rerun succeeded" 0 "$?"
check "rerun keeps revision and params" t "$(yd_sql "SELECT (r.revision_id = o.revision_id) AND (r.params = o.params) AND r.rerun_of = o.id FROM yoban.runs r, yoban.runs o WHERE r.id = $rrun AND o.id = $first")"

# ---- a runbook edited mid-run keeps its revision; an invalid edit keeps the old one scheduled ----
req=$(PGUSER=alice yd_sql "SELECT yoban.yoban_trigger('slow')")
yd_wait_sql "SELECT ok FROM yoban.requests WHERE id = $req" t 10
slow=$(yd_sql "SELECT result->>'run' FROM yoban.requests WHERE id = $req")
yd_wait_sql "SELECT state FROM yoban.jobs WHERE run_id = $slow" running 10
old_rev=$(yd_sql "SELECT revision_id FROM yoban.runs WHERE id = $slow")
yd_runbook slow 'targets: { hosts: [local] }
steps:
  - name: nap
    run: echo quick
  - name: renamed
    run: echo renamed'
"$YB_BIN/yoban" reload --database "host=$PGHOST dbname=yoban user=alice" >/dev/null; check "yoban reload" 0 "$?"
check "new revision recorded" 2 "$(yd_sql "SELECT count(*) FROM yoban.runbook_revisions WHERE runbook = 'slow'")"
PGUSER=alice yd_sql "SELECT yoban.yoban_cancel($slow)" >/dev/null
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $slow" cancelled 20
check "the run in flight kept its revision" "$old_rev" "$(yd_sql "SELECT revision_id FROM yoban.runs WHERE id = $slow")"
req=$(PGUSER=alice yd_sql "SELECT yoban.yoban_trigger('slow')")
yd_wait_sql "SELECT ok FROM yoban.requests WHERE id = $req" t 10
new=$(yd_sql "SELECT result->>'run' FROM yoban.requests WHERE id = $req")
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $new" succeeded 20
check "a new run uses the new revision" "nap,renamed" "$(yd_sql "SELECT string_agg(step, ',' ORDER BY step_index) FROM yoban.jobs WHERE run_id = $new")"

printf 'version: 1\nname: tick\nkind: batch\nschedule: { cron: "* * * * * *", timezone: Asia/Tokyo }\nsteps: oops\n' >"$YD_SITE/runbooks/tick.yaml"
"$YB_BIN/yoban" reload --database "host=$PGHOST dbname=yoban user=alice" >"$PG_BASE/reload.out" 2>&1; check "reload with an invalid file says so" 1 "$?"
grep -Eq 'tick.yaml:[0-9]+:[0-9]+: error' "$PG_BASE/reload.out"; check "the answer names the runbook's file and line" 0 "$?"
check "the error is in the audit table" t "$(yd_sql "SELECT count(*) > 0 FROM yoban.audit WHERE action = 'runbook:invalid' AND detail->>'file' LIKE '%tick.yaml'")"
n0=$(yd_sql "SELECT count(*) FROM yoban.runs WHERE runbook = 'tick'")
yd_wait_sql "SELECT count(*) >= $n0 + 2 FROM yoban.runs WHERE runbook = 'tick'" t 10
check "the previous revision stays scheduled" 0 "$?"
kill -HUP "$YD_PID"
sleep 1
check_status "SIGHUP reloads without stopping" 0 yd_running "$YD_PID"

# ---- concurrency forbid, locks, maintenance skip ----
rm -f "$YD_SITE/runbooks/tick.yaml"
yd_runbook lockers 'schedule: { cron: "* * * * * *", timezone: Asia/Tokyo }
concurrency: forbid
locks: [shared]
targets: { hosts: [local] }
steps:
  - name: hold
    run: sleep 1.5'
yd_runbook lockers2 'schedule: { cron: "* * * * * *", timezone: Asia/Tokyo }
concurrency: queue
locks: [shared]
targets: { hosts: [local] }
steps:
  - name: hold
    run: sleep 0.5'
kill -HUP "$YD_PID"
yd_wait_sql "SELECT count(*) >= 3 FROM yoban.runs WHERE runbook = 'lockers' AND state = 'skipped'" t 40
check "forbid skips a fire while the runbook runs" 0 "$?"
check "skip reason" t "$(yd_sql "SELECT count(*) > 0 FROM yoban.runs WHERE runbook = 'lockers' AND state = 'skipped' AND reason LIKE 'concurrency forbid: run % is still running'")"
yd_wait_sql "SELECT count(*) >= 3 FROM yoban.runs WHERE runbook = 'lockers2' AND state = 'succeeded'" t 40
check "queued runs of the lock sharer ran" 0 "$?"
rm -f "$YD_SITE/runbooks/lockers.yaml" "$YD_SITE/runbooks/lockers2.yaml"
kill -HUP "$YD_PID"
sleep 3
check "locked runs never overlap" 0 "$(yd_sql "SELECT count(*) FROM yoban.runs a JOIN yoban.runs b ON a.id < b.id WHERE a.runbook IN ('lockers', 'lockers2') AND b.runbook IN ('lockers', 'lockers2') AND a.started_at IS NOT NULL AND b.started_at IS NOT NULL AND tstzrange(a.started_at, a.ended_at) && tstzrange(b.started_at, b.ended_at)")"

from=$(date -u -d '-1 hour' +%FT%TZ); to=$(date -u -d '+1 hour' +%FT%TZ)
hold_end=$(( $(date +%s) + 6 ))
cat >>"$YD_SITE/yoban.yaml" <<YAML
maintenance:
  - { name: inspection, from: "$from", to: "$to", action: skip, runbooks: [ticker] }
  - { name: switch-work, from: "$from", to: "$(date -u -d "@$hold_end" +%FT%TZ)", action: hold, runbooks: [held] }
YAML
yd_runbook held 'schedule: { cron: "* * * * * *", timezone: Asia/Tokyo }
concurrency: allow
targets: { hosts: [local] }
steps:
  - name: say
    run: echo held'
yd_runbook ticker 'schedule: { cron: "* * * * * *", timezone: Asia/Tokyo }
targets: { hosts: [local] }
steps:
  - name: say
    run: echo hi'
kill -HUP "$YD_PID"
yd_wait_sql "SELECT count(*) >= 2 FROM yoban.runs WHERE runbook = 'ticker' AND state = 'skipped' AND reason = 'in maintenance window ''inspection'' (skip)'" t 20
check "a skip maintenance window records fires as skipped" 0 "$?"
yd_wait_sql "SELECT count(*) >= 2 FROM yoban.runs WHERE runbook = 'held' AND scheduled_for >= to_timestamp($hold_end) AND state = 'succeeded'" t 30
check "held fires ran once the hold window ended" t "$(yd_sql "SELECT count(*) > 0 FROM yoban.runs WHERE runbook = 'held' AND scheduled_for < to_timestamp($hold_end) AND state = 'succeeded'")"
check "no held fire started inside the window" 0 "$(yd_sql "SELECT count(*) FROM yoban.runs WHERE runbook = 'held' AND started_at < to_timestamp($hold_end)")"
check "held runs say why they waited" t "$(yd_sql "SELECT count(*) > 0 FROM yoban.run_transitions t JOIN yoban.runs r ON r.id = t.run_id WHERE r.runbook = 'held' AND t.to_state = 'queued' AND t.reason LIKE 'held by a maintenance window until %'")"
check "nothing ran in the window" 0 "$(yd_sql "SELECT count(*) FROM yoban.jobs j JOIN yoban.runs r ON r.id = j.run_id WHERE r.runbook = 'ticker'")"

# ---- lost is not free: a job whose journal is gone while its step still runs holds its slot ----
# An operator's config (the site's, logging in as alice) for the commands that ask the daemon.
sed 's/user=yoband/user=alice/' "$YD_SITE/yoban.yaml" >"$YD_SITE/alice.yaml"
as_alice() { "$YB_BIN/yoban" "$@" --config "$YD_SITE/alice.yaml"; }
yd_runbook vanish 'concurrency: forbid
targets: { hosts: [local] }
params:
  nap: { default: "10" }
steps:
  - name: nap
    run: sleep "$YOBAN_PARAM_NAP"; echo late'
kill -HUP "$YD_PID"
sleep 1
trigger_run() { # RUNBOOK [PARAMS-JSON]: prints the run the trigger made
  local rq params=${2:-"{}"}
  rq=$(PGUSER=alice yd_sql "SELECT yoban.yoban_trigger('$1', '$params')")
  yd_wait_sql "SELECT handled_at IS NOT NULL FROM yoban.requests WHERE id = $rq" t 10 >&2
  yd_sql "SELECT result->>'run' FROM yoban.requests WHERE id = $rq"
}
# Loses run $1's job: the daemon dies, the job's journal folder is removed, a daemon comes back.
lose_journal() {
  yd_wait_sql "SELECT state FROM yoban.jobs WHERE run_id = $1" running 10
  yd_kill "$YD_PID"
  rm -rf "$YD_SITE/state/runner/jobs/$(yd_sql "SELECT runner_job_id FROM yoban.jobs WHERE run_id = $1")"
  yd_start
}
run=$(trigger_run vanish)
lose_journal "$run"
rid=$(yd_sql "SELECT runner_job_id FROM yoban.jobs WHERE run_id = $run")
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $run" lost 20; check "a job without a journal is lost" 0 "$?"
check "the job is lost, not failed, and holds its slot" "lost|t" "$(yd_sql "SELECT state, holds_slot FROM yoban.jobs WHERE run_id = $run")"
matches "the job says its processes still run" "lost: the runner on 'local' has no journal for job '$rid' (unknown-running), but * of it still run* there: the run holds its slot and locks until they end (or 'yoban release $run')" \
  "$(yd_sql "SELECT error FROM yoban.jobs WHERE run_id = $run")"
check "the run says which step, and that it holds its slot" "step 'nap' lost on host 'local': processes of it still run there, so the run holds its slot and locks until they end (or 'yoban release $run')" \
  "$(yd_sql "SELECT reason FROM yoban.runs WHERE id = $run")"
check "the evidence names what still runs" t "$(yd_sql "SELECT (evidence #>> '{attach,processes}')::int > 0 FROM yoban.jobs WHERE run_id = $run")"
again=$(trigger_run vanish '{"nap": "0"}')
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $again" skipped 10
check "forbid does not start the runbook beside the lost job's processes" 0 "$?"
check "the skip says why" "concurrency forbid: run $run was lost and processes of it still run on host 'local' (they hold its slot until they end; 'yoban release $run' frees it)" \
  "$(yd_sql "SELECT reason FROM yoban.runs WHERE id = $again")"
contains "status shows the lost run holding its slot" "holding its slot and locks" "$(as_alice status 2>&1)"
contains "status says how to release it" "'yoban release $run'" "$(as_alice status 2>&1)"
contains "show says the slot is held and how to free it" "free them by hand with 'yoban release $run --comment WHY'" "$(as_alice show "$run" 2>&1)"
yd_wait_sql "SELECT released_by FROM yoban.jobs WHERE run_id = $run" runner 30
check "once the processes end, the runner's word releases the slot" 0 "$?"
check "and the job stays lost" "lost|f" "$(yd_sql "SELECT state, holds_slot FROM yoban.jobs WHERE run_id = $run")"
after=$(trigger_run vanish '{"nap": "0"}')
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $after" succeeded 20
check "then the forbid runbook starts again" 0 "$?"
check_status "a run that holds nothing cannot be released" 1 as_alice release "$after" --wait

run=$(trigger_run vanish '{"nap": "25"}')
lose_journal "$run"
yd_wait_sql "SELECT holds_slot FROM yoban.jobs WHERE run_id = $run" t 20; check "a second lost job holds its slot" 0 "$?"
yd_stop "$YD_PID"
yd_start
yd_wait_sql "SELECT count(*) > 0 FROM yoban.heartbeats WHERE leader AND pid = $YD_PID" t 20
again=$(trigger_run vanish '{"nap": "0"}')
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $again" skipped 10
check "a restarted daemon still counts the lost run's slot" 0 "$?"
as_alice cancel "$run" --wait >/dev/null; check "cancel of a lost run holding its slot is accepted" 0 "$?"
yd_wait_sql "SELECT released_by FROM yoban.jobs WHERE run_id = $run" runner 20
check "the runner kills its leftovers and the slot is released" 0 "$?"
check "what the cancel killed is the job's evidence" t \
  "$(yd_sql "SELECT (evidence #>> '{cancel,killed}')::int > 0 AND (evidence #>> '{cancel,processes}')::int = 0 FROM yoban.jobs WHERE run_id = $run")"
alive=
for _ in $(seq 50); do
  alive=$(for pid in $(yd_sql "SELECT p->>'pid' FROM yoban.jobs j, jsonb_array_elements(j.evidence #> '{attach,pids}') p WHERE j.run_id = $run"); do
    yd_running "$pid" && echo "$pid"; done)
  [ -z "$alive" ] && break
  sleep 0.1
done
check "the leftovers are gone" "" "$alive"

run=$(trigger_run vanish '{"nap": "25"}')
lose_journal "$run"
yd_wait_sql "SELECT holds_slot FROM yoban.jobs WHERE run_id = $run" t 20; check "a third lost job holds its slot" 0 "$?"
check_status "the daemon's own login may not release" 1 "$YB_BIN/yoban" release "$run" --wait
check_status "yoban release frees it by hand" 0 as_alice release "$run" --comment "checked on the host: a harmless sleep" --wait
check "the job says who released it and why" "alice|checked on the host: a harmless sleep|lost|f" \
  "$(yd_sql "SELECT released_by, release_comment, state, holds_slot FROM yoban.jobs WHERE run_id = $run")"
check "the release is audited with the operator's login" "alice:request:release,yoband:run:released" \
  "$(yd_sql "SELECT string_agg(actor || ':' || action, ',' ORDER BY id) FROM yoban.audit WHERE run_id = $run AND action IN ('request:release', 'run:released')")"
after=$(trigger_run vanish '{"nap": "0"}')
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $after" succeeded 20
check "after the release the forbid runbook starts again" 0 "$?"
# the released leftover is this test's own sleep: end it
for pid in $(yd_sql "SELECT p->>'pid' FROM yoban.jobs j, jsonb_array_elements(j.evidence #> '{attach,pids}') p WHERE j.run_id = $run"); do
  kill "$pid" 2>/dev/null
done

yd_stop_all
check "nothing stuck in cancelling" 0 "$(yd_sql "SELECT count(*) FROM yoban.runs WHERE state = 'cancelling'")"
grep -q 'stopping on a signal' "$PG_BASE/yoband.log"; check "SIGTERM logged" 0 "$?"
"$YB_BIN/yoban" reload --database "host=$PGHOST dbname=yoban user=alice" --timeout 1s >/dev/null 2>"$PG_BASE/reload.err"
check "reload without a daemon fails" 1 "$?"
grep -q 'has not picked up request' "$PG_BASE/reload.err"; check "and says so" 0 "$?"
"$YB_BIN/yoban" reload --database "host=$PGHOST dbname=yoban user=yoband" >/dev/null 2>&1
check "the daemon's own login may not reload" 1 "$?"
echo "hosts: [" >"$YD_SITE/inventory.yaml"
yd_start "$PG_BASE/bad.log"
bad=$YD_PID
yd_wait_sql "SELECT count(*) > 0 FROM yoban.audit WHERE action = 'reload:invalid'" t 20
check "a broken inventory at start is reported, not fatal" 0 "$?"
check_status "the daemon runs on" 0 yd_running "$bad"
finish
