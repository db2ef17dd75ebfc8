#!/usr/bin/env bash
# A job is only ever the job yoband started, and unreachable is not forever (issue 8, §1, §4, §6):
# runner ids carry the site's random id and the run's random nonce; a job made by hand under the
# id the daemon picks (with `yoban exec --job-id`) is refused as a conflict, never adopted; two
# databases sharing one runner state folder never meet; what the runner killed is kept with the
# job and shown; a host that cannot be reached fails the job at the step's timeout, and a cancel
# of a job that never started completes at once.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/assert.sh"
. "$here/lib/pg.sh"
. "$here/lib/daemon.sh"

yd_setup || bail "yd_setup"
sed 's/user=yoband/user=alice/' "$YD_SITE/yoban.yaml" >"$YD_SITE/alice.yaml"
as_alice() { "$YB_BIN/yoban" "$@" --config "$YD_SITE/alice.yaml"; }
trigger_run() { # RUNBOOK [DATABASE]: prints the run the trigger made
  local db=${2:-yoban} rq
  rq=$(PGUSER=alice "$PG_BINDIR/psql" -X -qAt -d "$db" -c "SELECT yoban.yoban_trigger('$1')")
  for _ in $(seq 100); do
    [ "$(PGUSER=alice "$PG_BINDIR/psql" -X -qAt -d "$db" -c "SELECT handled_at IS NOT NULL FROM yoban.requests WHERE id = $rq")" = t ] && break
    sleep 0.1
  done
  PGUSER=alice "$PG_BINDIR/psql" -X -qAt -d "$db" -c "SELECT result->>'run' FROM yoban.requests WHERE id = $rq"
}

yd_runbook ident 'targets: { hosts: [local] }
steps:
  - name: say
    run: echo "run $YOBAN_RUN_ID"'
yd_runbook leaver 'targets: { hosts: [local] }
steps:
  - name: fork
    run: setsid sleep 60 & sleep 0.3; echo started'
yd_start

# ---- ids: the site's id and the run's nonce ----
run=$(trigger_run ident)
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $run" succeeded 20; check "a run succeeds" 0 "$?"
site=$(yd_sql "SELECT id FROM yoban.site")
nonce=$(yd_sql "SELECT nonce FROM yoban.runs WHERE id = $run")
matches "the site id is 16 random hex digits" "????????????????" "$site"
check "the runner id carries the site's id and the run's nonce" "r$run-s0-a1-h0-$site-$nonce" \
  "$(yd_sql "SELECT runner_job_id FROM yoban.jobs WHERE run_id = $run")"
check "nonces differ between runs" 2 "$(yd_sql "SELECT count(DISTINCT nonce) FROM yoban.runs WHERE id IN ($run, $(trigger_run ident))")"

# ---- evidence: what the runner killed ----
run=$(trigger_run leaver)
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $run" succeeded 20; check "a step leaving a daemon behind succeeds" 0 "$?"
check "the runner's kill is kept as the job's evidence" "1|sleep" \
  "$(yd_sql "SELECT evidence #>> '{exit,killed_count}', evidence #>> '{exit,killed,0,comm}' FROM yoban.jobs WHERE run_id = $run")"
matches "show names what was killed" "*killed 1 process to end it: sleep (pid *)*" "$(as_alice show "$run" 2>&1)"

# ---- a job made by hand under the id the daemon picks is refused, never adopted ----
yd_stop "$YD_PID"
rev=$(yd_sql "SELECT max(id) FROM yoban.runbook_revisions WHERE runbook = 'ident'")
# A run the daemon will start when it comes back, with a nonce this test knows (as if guessed).
known=0123456789abcdef01234567
run=$(PGDATABASE=yoban pg_psql -At -c "INSERT INTO yoban.runs (runbook, revision_id, trigger, params, nonce) VALUES ('ident', $rev, 'manual', '{}', '$known') RETURNING id" | head -1)
taken="r$run-s0-a1-h0-$site-$known"
"$YB_BIN/yoban" exec --host local --job-id "$taken" --detach -- sh -c 'echo impostor; sleep 20' >/dev/null
check "a job is made by hand under the id the daemon will pick" 0 "$?"
yd_start
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $run" failed 20; check "the run fails rather than adopt it" 0 "$?"
check "the job says another job holds the id on that host" \
  "failed: another job holds the id '$taken' on host 'local' (the runner answered conflict: its spec is not this step's): this step was not started there and that job was not adopted" \
  "$(yd_sql "SELECT state || ': ' || error FROM yoban.jobs WHERE run_id = $run")"
check "none of the other job's output is stored as the step's" 0 \
  "$(yd_sql "SELECT count(*) FROM yoban.output_chunks c JOIN yoban.jobs j ON j.id = c.job_id WHERE j.run_id = $run")"
check_status "the other job is left alone" 0 test -d "$YD_SITE/state/runner/jobs/$taken"
timeout 2 sh -c "echo c > '$YD_SITE/state/runner/jobs/$taken/control'" 2>/dev/null

# ---- two databases sharing one runner state folder ----
pg_psql -c "CREATE DATABASE yoban2" >/dev/null || bail "a second database"
"$YB_BIN/yoban" db migrate --database "host=$PGHOST dbname=yoban2 user=postgres" >/dev/null || bail "migrate yoban2"
PGDATABASE=yoban2 pg_psql -c "SELECT yoban.yoban_grant_login('alice', ARRAY['yoban_operator'])" >/dev/null
check "each database has its own site id" 2 \
  "$( (yd_sql "SELECT id FROM yoban.site"; PGDATABASE=yoban2 pg_psql -At -c "SELECT id FROM yoban.site") | sort -u | wc -l)"
sed 's/dbname=yoban /dbname=yoban2 /' "$YD_SITE/yoban.yaml" >"$YD_SITE/second.yaml"
first=$YD_PID
yd_start "$PG_BASE/second.log" --config "$YD_SITE/second.yaml"
second=$YD_PID
YD_PID=$first
run2=$(trigger_run ident yoban2)
for _ in $(seq 200); do
  [ "$(PGDATABASE=yoban2 pg_psql -At -c "SELECT state FROM yoban.runs WHERE id = $run2")" = succeeded ] && break
  sleep 0.1
done
check "the second site's run succeeds on the shared runner" succeeded "$(PGDATABASE=yoban2 pg_psql -At -c "SELECT state FROM yoban.runs WHERE id = $run2")"
id1=$(yd_sql "SELECT runner_job_id FROM yoban.jobs WHERE run_id = $run2")
id2=$(PGDATABASE=yoban2 pg_psql -At -c "SELECT runner_job_id FROM yoban.jobs WHERE run_id = $run2")
matches "the same run number in both databases" "r$run2-s0-a1-h0-*" "$id2"
check_status "gets different runner ids" 1 test "$id1" = "$id2"
yd_stop "$second"

# ---- unreachable is not forever ----
ssh-keygen -q -t ed25519 -N '' -f "$PG_BASE/id_ed25519" || bail "a key"
printf 'ssh:\n  key: %s\n' "$PG_BASE/id_ed25519" >>"$YD_SITE/yoban.yaml"
cat >>"$YD_SITE/inventory.yaml" <<YAML
  far: { address: 127.0.0.1, port: 1, user: nobody, environment: production, host_key: "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }
YAML
yd_runbook far-short 'targets: { hosts: [far] }
timeout: 3s
steps:
  - name: reach
    run: echo never'
yd_runbook far-long 'targets: { hosts: [far] }
steps:
  - name: reach
    run: echo never'
kill -HUP "$YD_PID"
sleep 1
run=$(trigger_run far-short)
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $run" failed 20; check "a run against a closed port ends at the step's timeout" 0 "$?"
matches "the job says the host was unreachable" "failed: unreachable: the runner on host 'far' could not be reached within 3s (the step's timeout), so the job never started: *" \
  "$(yd_sql "SELECT state || ': ' || error FROM yoban.jobs WHERE run_id = $run")"
check "it took about the timeout" t "$(yd_sql "SELECT ended_at - started_at BETWEEN interval '2 s' AND interval '10 s' FROM yoban.runs WHERE id = $run")"
run=$(trigger_run far-long)
yd_wait_sql "SELECT state FROM yoban.jobs WHERE run_id = $run" dispatched 10
as_alice cancel "$run" --wait >/dev/null; check "cancel of a job that never started is accepted" 0 "$?"
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $run" cancelled 10; check "and completes at once" 0 "$?"
matches "the job says it never reached the runner" "cancelled: cancelled before it reached the runner on host 'far' (unreachable*" \
  "$(yd_sql "SELECT state || ': ' || error FROM yoban.jobs WHERE run_id = $run")"
finish
