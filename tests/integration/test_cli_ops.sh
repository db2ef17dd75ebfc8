#!/usr/bin/env bash
# The operator commands (trigger, cancel, rerun, status, runs, show, logs) against a real
# PostgreSQL migrated by `yoban db migrate`, logged in as real roles: what each role may and may
# not do, what the request rows record, and what an operator reads back from rows written as the
# daemon's role (the daemon itself is not needed here; test_cli_daemon.sh drives yoband).
set -uo pipefail
yoban="${YB_BIN:?}/yoban"
. "${YB_SOURCE_DIR:?}/tests/integration/lib/assert.sh"
# shellcheck source=lib/pg.sh
. "${YB_SOURCE_DIR:?}/tests/integration/lib/pg.sh"
json_ok() { python3 -c 'import json,sys; json.load(sys.stdin)' 2>/dev/null; }
jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

pg_start || bail "PostgreSQL starts"
work=$(mktemp -d)
# shellcheck disable=SC2034 # read by lib/pg.sh on exit
PG_ON_EXIT=cleanup
cleanup() { rm -rf "$work"; }
chmod 0755 "$work"
pg_psql -c 'CREATE DATABASE yoban' || bail "CREATE DATABASE yoban"
cat >"$work/yoban.yaml" <<YAML
database: "host=$PGHOST port=$PGPORT dbname=yoban"
state_dir: $work/state
timezone: Asia/Tokyo
YAML
export YOBAN_CONFIG=$work/yoban.yaml
db() { PGDATABASE=yoban pg_psql "$@"; }
as() { local who=$1; shift; PGUSER=$who "$@"; }

# ---- schema and roles ----
PGUSER=postgres "$yoban" db migrate >"$work/migrate.out" 2>&1
check "migrate succeeds" 0 $?
pg_create_login alice yoban_operator
pg_create_login rita yoban_reviewer
pg_create_login mallory
pg_create_login ydtest yoban_daemon

# ---- usage errors exit 2, --help exits 0 ----
for c in trigger cancel rerun status runs show logs; do
  as alice "$yoban" "$c" --help >"$work/help" 2>&1
  check "$c --help exits 0" 0 $?
  contains "$c --help starts with usage" "usage: yoban $c" "$(head -1 "$work/help")"
  as alice "$yoban" "$c" --no-such-option >/dev/null 2>&1
  check "$c unknown option exits 2" 2 $?
  as alice "$yoban" "$c" x --format yaml >/dev/null 2>&1
  check "$c bad --format exits 2" 2 $?
done
as alice "$yoban" trigger >/dev/null 2>&1;              check "trigger without runbook: 2" 2 $?
as alice "$yoban" trigger a b >/dev/null 2>&1;          check "trigger with two runbooks: 2" 2 $?
as alice "$yoban" trigger hello --param oops >/dev/null 2>&1; check "--param without '=': 2" 2 $?
as alice "$yoban" trigger hello --param 'a b=1' >/dev/null 2>&1; check "--param bad name: 2" 2 $?
as alice "$yoban" trigger runbooks/hello.yaml >/dev/null 2>&1; check "trigger a file path: 2" 2 $?
as alice "$yoban" cancel abc >/dev/null 2>&1;           check "cancel non-numeric run: 2" 2 $?
as alice "$yoban" show 0 >/dev/null 2>&1;               check "show run 0: 2" 2 $?
as alice "$yoban" runs --state happy >/dev/null 2>&1;   check "runs unknown state: 2" 2 $?
as alice "$yoban" runs --limit 0 >/dev/null 2>&1;       check "runs --limit 0: 2" 2 $?
as alice "$yoban" runs --since yesterday >/dev/null 2>&1; check "runs bad --since: 2" 2 $?
as alice "$yoban" runs --config "$work/absent.yaml" >/dev/null 2>&1; check "missing --config: 2" 2 $?

# ---- an operator triggers; the request records session_user ----
out=$(as alice "$yoban" trigger hello-local --param BATCH_DATE=2026-11-21 --param N=3 2>&1)
check "operator trigger exits 0" 0 $?
rid=${out#request }
check "trigger prints 'request ID'" "request $rid" "$out"
check "request row records alice" "trigger|alice|hello-local|production|2026-11-21|3" \
  "$(db -c "SELECT kind, requested_by, args->>'runbook', args->>'mode', args->'params'->>'BATCH_DATE', args->'params'->>'N' FROM yoban.requests WHERE id = $rid")"
check "audit row records alice" "alice|request:trigger" \
  "$(db -c "SELECT actor, action FROM yoban.audit WHERE request_id = $rid")"
out=$(as alice "$yoban" trigger hello-local --staging --format json)
check "trigger --format json exits 0" 0 $?
check "trigger json parses, staging" "staging True" "$(jq_py 'd["mode"], isinstance(d["request_id"], int)' <<<"$out" | tr '\n' ' ' | sed 's/ $//')"
# a parameter value with quotes and a shell metacharacter arrives verbatim
as alice "$yoban" trigger hello-local --param "Q=it's \$(rm -rf /); \"x\"" >/dev/null
check "parameter stored verbatim" "it's \$(rm -rf /); \"x\"" \
  "$(db -c "SELECT args->'params'->>'Q' FROM yoban.requests ORDER BY id DESC LIMIT 1")"
out=$(as alice "$yoban" trigger 'Bad_Name' 2>&1)
check "bad runbook name refused: 1" 1 $?
contains "bad runbook name message" "bad runbook name" "$out"

# --wait with no daemon gives up at the deadline with exit 1 and says why
out=$(as alice "$yoban" trigger hello-local --wait --timeout 1s 2>&1)
check "trigger --wait without yoband exits 1" 1 $?
contains "--wait says yoband did not answer" "has not picked up request" "$out"

# ---- a reviewer cannot trigger, cancel or rerun ----
out=$(as rita "$yoban" trigger hello-local 2>&1)
check "reviewer trigger exits 1" 1 $?
check "reviewer trigger message" \
  "yoban: error: permission denied: role 'rita' is not a member of yoban_operator (ask an admin to grant it)" "$out"
check "no request row for rita" 0 "$(db -c "SELECT count(*) FROM yoban.requests WHERE requested_by = 'rita'")"
out=$(as mallory "$yoban" runs 2>&1)
check "role without yoban rights: runs exits 1" 1 $?
contains "runs refused names the role" "permission denied: role 'mallory'" "$out"

# ---- an operator cannot write tables directly ----
out=$(PGUSER=alice PGDATABASE=yoban pg_psql -c "INSERT INTO yoban.requests (kind, args) VALUES ('trigger', '{}')" 2>&1)
check "operator INSERT into requests refused" 1 $?
contains "INSERT refused: permission denied" "permission denied" "$out"
out=$(PGUSER=alice PGDATABASE=yoban pg_psql -c "INSERT INTO yoban.runs (runbook, trigger) VALUES ('x', 'manual')" 2>&1)
check "operator INSERT into runs refused" 1 $?
out=$(PGUSER=alice PGDATABASE=yoban pg_psql -c "UPDATE yoban.requests SET ok = true" 2>&1)
check "operator UPDATE of requests refused" 1 $?

# ---- rows written as the daemon: a finished run with two steps and output ----
# Offsets count the job's combined output (stdout and stderr share one spool), as the runner's.
# as the runner does: one frame with its content size (zstd given a file, not a pipe)
hexz() { cat >"$work/chunk"; zstd -q -c "$work/chunk" | od -An -v -tx1 | tr -d ' \n'; }
out1=$(printf 'hello from step one\nline two\n' | hexz)
err1=$(printf 'a warning\n' | hexz)
out1b=$(printf 'third line\n' | hexz)
out2=$(printf 'step two on db1\n' | hexz)
out3=$(printf 'step two on db2\n' | hexz)
PGUSER=ydtest PGDATABASE=yoban pg_psql >"$work/seed.out" 2>&1 <<SQL
SELECT yoban.yoban_heartbeat('sched1:111', 'sched1', 111, true);
SELECT yoban.yoban_record_revision('nightly-batch', convert_to('name: nightly-batch', 'UTF8'));
SELECT run_id FROM yoban.yoban_claim_fire('nightly-batch', '2026-11-21 01:30:00+09', 'production',
  (SELECT id FROM yoban.runbook_revisions WHERE runbook = 'nightly-batch'));
SELECT yoban.yoban_run_transition(1, 'pending', 'running');
INSERT INTO yoban.jobs (run_id, step, step_index, host, state, started_at, ended_at, exit_status,
  stdout_bytes, stderr_bytes, stdout_sha256)
  VALUES (1, 'extract', 0, 'app1', 'succeeded', now() - interval '5 min', now() - interval '4 min', 0,
          39, 10, repeat('ab', 32));
INSERT INTO yoban.jobs (run_id, step, step_index, host, state, started_at, ended_at, exit_status)
  VALUES (1, 'load', 1, 'db1', 'succeeded', now() - interval '4 min', now() - interval '3 min', 0),
         (1, 'load', 1, 'db2', 'failed', now() - interval '4 min', now() - interval '3 min', 3);
INSERT INTO yoban.output_chunks (job_id, stream, "offset", raw_len, zstd) VALUES
  (1, 'stdout', 0, 29, '\\x$out1'), (1, 'stderr', 29, 10, '\\x$err1'),
  (1, 'stdout', 39, 11, '\\x$out1b'), (2, 'stdout', 0, 16, '\\x$out2'),
  (3, 'stdout', 0, 16, '\\x$out3');
SELECT yoban.yoban_run_transition(1, 'running', 'failed', 'step load failed on db2');
SELECT run_id FROM yoban.yoban_claim_fire('other-book', '2026-11-22 02:00:00+09');
SQL
check "daemon role seeds runs, jobs and output" 0 $? || cat "$work/seed.out"

out=$(as rita "$yoban" runs 2>&1)
check "reviewer can list runs" 0 $?
contains "runs table header" "ID      RUNBOOK" "$out"
contains "runs shows the failed run" "nightly-batch" "$out"
contains "runs shows the scheduled time in the site zone" "2026-11-21 01:30:00" "$out"
check "runs --state failed: one row" 1 "$(as rita "$yoban" runs --state failed --format json | jq_py 'len(d)')"
check "runs --runbook: only that runbook" "other-book" "$(as rita "$yoban" runs --runbook other-book --format json | jq_py 'd[0]["runbook"]')"
check "runs --limit 1: newest first" 2 "$(as rita "$yoban" runs --limit 1 --format json | jq_py 'd[0]["id"]')"
check "runs --since the future: none" 0 "$(as rita "$yoban" runs --since 2099-01-01 --format json | jq_py 'len(d)')"
as rita "$yoban" runs --since 2026-13-45 >/dev/null 2>&1
check "runs --since an impossible date: 2" 2 $?
check "runs --since 1h: both" 2 "$(as rita "$yoban" runs --since 1h --format json | jq_py 'len(d)')"
as rita "$yoban" runs --format json | json_ok
check "runs json parses" 0 $?

out=$(as rita "$yoban" show 1 2>&1)
check "reviewer can show a run" 0 $?
contains "show names run and state" "run 1  nightly-batch  failed" "$out"
contains "show has the revision digest" "$(printf 'name: nightly-batch' | sha256sum | cut -c1-64)" "$out"
contains "show lists the failed job with exit 3" "load                     db2              1   failed     3" "$out"
contains "show has the stdout digest" "stdout sha256 $(printf 'ab%.0s' {1..32})" "$out"
contains "show has the history reason" "step load failed on db2" "$out"
j=$(as rita "$yoban" show 1 --format json)
check "show json: jobs, exit, history" "3 3 3 failed" \
  "$(jq_py '" ".join(str(x) for x in (len(d["jobs"]), d["jobs"][2]["exit_status"], len(d["history"]), d["state"]))' <<<"$j")"
out=$(as rita "$yoban" show 999 2>&1)
check "show unknown run exits 1" 1 $?
contains "show unknown run message" "no run 999" "$out"

as rita "$yoban" logs 1 >"$work/logs.out" 2>"$work/logs.err"
check "reviewer can read logs" 0 $?
check "logs stdout in order" "hello from step one
line two
third line
step two on db1
step two on db2" "$(cat "$work/logs.out")"
contains "logs stderr carries the step's stderr" "a warning" "$(cat "$work/logs.err")"
contains "logs marks each job on stderr" "==> step 'load' on 'db2', attempt 1 (job 3) <==" "$(cat "$work/logs.err")"
check "logs interleaves stdout and stderr as the step wrote them" "hello from step one
line two
a warning
third line" "$(as rita "$yoban" logs 1 --step extract --quiet 2>&1)"
check "logs --step load --quiet" "step two on db1
step two on db2" "$(as rita "$yoban" logs 1 --step load --quiet 2>&1)"
check "logs --follow on an ended run ends" "step two on db2" "$(as rita "$yoban" logs 1 --step load -f 2>/dev/null | tail -1)"
as rita "$yoban" logs 1 --format json | while read -r line; do json_ok <<<"$line" || echo bad; done >"$work/jl"
check "logs json lines parse" "" "$(cat "$work/jl")"
out=$(as rita "$yoban" logs 42 2>&1)
check "logs unknown run exits 1" 1 $?
# a corrupt chunk is reported, not printed as garbage
PGUSER=ydtest PGDATABASE=yoban pg_psql -c "INSERT INTO yoban.jobs (run_id, step, step_index, host) VALUES (2, 's', 0, 'h')" \
  -c "INSERT INTO yoban.output_chunks (job_id, stream, \"offset\", raw_len, zstd) VALUES (4, 'stdout', 0, 5, '\\x0102')"
out=$(as rita "$yoban" logs 2 2>&1)
check "corrupt chunk exits 1" 1 $?
contains "corrupt chunk message" "stored chunk unreadable" "$out"

# ---- cancel and rerun as an operator; refused for unknown runs and reviewers ----
out=$(as alice "$yoban" cancel 1)
check "operator cancel exits 0" 0 $?
rid=${out#request }
check "cancel request records alice and run" "cancel|alice|1" \
  "$(db -c "SELECT kind, requested_by, args->>'run' FROM yoban.requests WHERE id = $rid")"
out=$(as alice "$yoban" cancel 777 2>&1)
check "cancel unknown run exits 1" 1 $?
contains "cancel unknown run message" "no run 777" "$out"
out=$(as alice "$yoban" rerun 1 --from-step load --format json)
check "operator rerun exits 0" 0 $?
rid=$(jq_py 'd["request_id"]' <<<"$out")
check "rerun request records from_step" "rerun|alice|1|load" \
  "$(db -c "SELECT kind, requested_by, args->>'run', args->>'from_step' FROM yoban.requests WHERE id = $rid")"
out=$(as rita "$yoban" rerun 1 2>&1)
check "reviewer rerun exits 1" 1 $?
contains "reviewer rerun message" "not a member of yoban_operator" "$out"
out=$(as rita "$yoban" cancel 1 2>&1)
check "reviewer cancel exits 1" 1 $?

# ---- status: leader alive, then stale ----
out=$(as rita "$yoban" status 2>&1)
check "status with a fresh heartbeat exits 0" 0 $?
contains "status names the leader" "leader      sched1:111 on sched1, pid 111" "$out"
contains "status lists active runs" "other-book" "$(as rita "$yoban" status)"
as rita "$yoban" status --format json | json_ok
check "status json parses" 0 $?
pg_psql -d yoban -c "UPDATE yoban.heartbeats SET at = now() - interval '5 min'"
out=$(as rita "$yoban" status 2>&1)
check "status with a stale heartbeat exits 1" 1 $?
contains "status says NO LEADER" "NO LEADER" "$out"
check "status json leader null when stale" "None" "$(as rita "$yoban" status --format json 2>/dev/null | jq_py 'd["leader"]')"

# ---- the embedded default: no database configured and no cluster says how to start it ----
printf 'state_dir: %s/nostate\n' "$work" >"$work/embedded.yaml"
out=$("$yoban" runs --config "$work/embedded.yaml" 2>&1)
check "no embedded cluster exits 1" 1 $?
contains "no embedded cluster hint" "yoban db start" "$out"

finish
