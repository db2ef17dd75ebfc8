#!/usr/bin/env bash
# Who may do what, checked with distinct login roles on a real PostgreSQL 15:
#   alice (yoban_operator)  changes nothing directly, triggers through yoban_trigger (recorded as
#                           alice), cancels and reruns through their functions
#   bob (yoban_reviewer), carol (yoban_approver)  read, cannot trigger
#   mallory (no yoban role) cannot even read
#   daemon (yoban_daemon)   claims scheduled fires exactly once, moves runs compare-and-set
set -uo pipefail
src=${YB_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${YB_BIN:-$src/build/bin}
. "$src/tests/integration/lib/assert.sh"
. "$src/tests/integration/lib/pg.sh"
# as ROLE SQL: the result (or the error, and a non-zero status)
as() { local r=$1; shift; pg_psql_as "$r" -d yt -c "$*" 2>&1; }
# psql_refuses ROLE PATTERN SQL: true when SQL as ROLE fails with an error matching the ERE PATTERN
psql_refuses() {
  local r=$1 pat=$2 out; shift 2
  if out=$(pg_psql_as "$r" -d yt -c "$*" 2>&1); then echo "allowed: $out"; return 1; fi
  grep -qE -- "$pat" <<<"$out" || { echo "failed, but not with /$pat/: $out"; return 1; }
}
# refused ROLE PATTERN SQL: the assertion
refused() { check_status "as $1, refused with /$2/: $3" 0 psql_refuses "$@"; }

pg_start || bail "PostgreSQL starts"
pg_psql -c "CREATE DATABASE yt" || bail "CREATE DATABASE yt"
"$bin/yoban" db migrate --database "dbname=yt" >/dev/null || bail "yoban db migrate"
for login in "alice yoban_operator" "bob yoban_reviewer" "carol yoban_approver" "daemon yoban_daemon" mallory; do
  # shellcheck disable=SC2086 # a role and its group
  pg_create_login $login || bail "login role $login"
done

# the group roles: NOLOGIN
check "the yoban_* roles exist and are NOLOGIN" t \
  "$(pg_psql -d yt -c "SELECT count(*) >= 5 FROM pg_roles WHERE rolname LIKE 'yoban\_%' AND NOT rolcanlogin")"

# --- the operator: no direct writes ---
refused alice "permission denied" "INSERT INTO yoban.requests (kind) VALUES ('reload')"
refused alice "permission denied" "INSERT INTO yoban.runs (runbook, trigger) VALUES ('x', 'manual')"
refused alice "permission denied" "UPDATE yoban.requests SET handled_at = now()"
refused alice "permission denied" "DELETE FROM yoban.audit"
refused alice "permission denied" "DELETE FROM yoban.runs"
refused alice "permission denied" "SELECT * FROM yoban.yoban_claim_fire('nightly', now())"
refused alice "permission denied" "SELECT yoban.yoban_request('trigger', '{}', NULL)"
# ... but yoban_trigger works and records who asked
req=$(as alice "SELECT yoban.yoban_trigger('nightly-batch', '{\"business_date\": \"2026-04-01\"}', true)")
matches "yoban_trigger returns a request id" '+([0-9])' "$req"
check "the request row" "trigger|alice|nightly-batch|staging|2026-04-01" \
  "$(pg_psql -d yt -c "SELECT kind, requested_by, args->>'runbook', args->>'mode', args->'params'->>'business_date' FROM yoban.requests WHERE id = $req")"
check "the audit row for request $req" "alice request:trigger" \
  "$(pg_psql -d yt -c "SELECT actor || ' ' || action FROM yoban.audit WHERE request_id = $req")"
# SET ROLE cannot borrow someone else's name: session_user is recorded
pg_psql -d yt -c "GRANT alice TO bob" || bail "GRANT alice TO bob"
req2=$(as bob "SET ROLE alice; SELECT yoban.yoban_trigger('nightly-batch')" | tail -1)
check "a request made after SET ROLE alice names bob" bob "$(pg_psql -d yt -c "SELECT requested_by FROM yoban.requests WHERE id = $req2")"
pg_psql -d yt -c "REVOKE alice FROM bob" || bail "REVOKE alice FROM bob"
# bad arguments are refused with words
refused alice "bad runbook name" "SELECT yoban.yoban_trigger('Bad Name;--')"
refused alice "params must be a JSON object" "SELECT yoban.yoban_trigger('x', '[1]')"
refused alice "no run 424242" "SELECT yoban.yoban_cancel(424242)"

# --- readers ---
for r in bob carol; do
  check "$r reads requests" t "$(as $r "SELECT count(*) >= 1 FROM yoban.requests")"
  check_status "$r reads runs, audit, jobs, output_chunks, heartbeats" 0 \
    as $r "SELECT count(*) FROM yoban.runs, yoban.audit, yoban.jobs, yoban.output_chunks, yoban.heartbeats"
  refused $r "permission denied" "SELECT yoban.yoban_trigger('nightly-batch')"
  refused $r "permission denied" "INSERT INTO yoban.requests (kind) VALUES ('reload')"
done
refused mallory "permission denied" "SELECT * FROM yoban.runs"
refused mallory "permission denied" "SELECT yoban.yoban_trigger('x')"

# --- the daemon: exactly once ---
at="2026-04-01 01:30:00+09"
first=$(as daemon "SELECT run_id || ' ' || claimed FROM yoban.yoban_claim_fire('nightly-batch', '$at')")
run=${first% *}
check "the first claim claims" true "${first#* }"
second=$(as daemon "SELECT run_id || ' ' || claimed FROM yoban.yoban_claim_fire('nightly-batch', '$at')")
check "a second claim of the same fire says already claimed" "$run false" "$second"
# the same instant written in another zone is the same fire
third=$(as daemon "SELECT claimed FROM yoban.yoban_claim_fire('nightly-batch', '2026-03-31 16:30:00+00')")
check "the same instant in UTC is not claimed again" f "$third"
refused daemon "duplicate key value violates unique constraint \"runs_fire_key\"" \
  "INSERT INTO yoban.runs (runbook, trigger, scheduled_for, mode) VALUES ('nightly-batch', 'schedule', '$at', 'production')"
refused daemon "runs_fire_key" \
  "INSERT INTO yoban.runs (runbook, trigger, scheduled_for, mode) VALUES ('nightly-batch', 'catchup', '$at', 'production')"
check "the staging fire at the same time is a different fire" t \
  "$(as daemon "SELECT claimed FROM yoban.yoban_claim_fire('nightly-batch', '$at', 'staging')")"
check "run count" 2 "$(pg_psql -d yt -c "SELECT count(*) FROM yoban.runs WHERE runbook = 'nightly-batch'")"
# manual runs at the same time are not fires: any number
check_status "a manual run at the time of a fire" 0 as daemon "SELECT yoban.yoban_create_run('nightly-batch', 'manual', 'production', 'alice', $req)"
check_status "and another" 0 as daemon "SELECT yoban.yoban_create_run('nightly-batch', 'manual', 'production', 'alice', $req)"
# transitions: compare-and-set, with history
check "pending -> running" t "$(as daemon "SELECT yoban.yoban_run_transition($run, 'pending', 'running')")"
check "a stale transition does not move the run" f "$(as daemon "SELECT yoban.yoban_run_transition($run, 'pending', 'running')")"
check "running -> succeeded" t "$(as daemon "SELECT yoban.yoban_run_transition($run, 'running', 'succeeded', 'exit 0')")"
refused daemon "is final" "SELECT yoban.yoban_run_transition($run, 'succeeded', 'running')"
hist=$(pg_psql -d yt -c "SELECT coalesce(from_state::text, '-') || '>' || to_state FROM yoban.run_transitions WHERE run_id = $run ORDER BY id" | tr '\n' ' ')
check "the history" "->pending pending>running running>succeeded " "$hist"
check "the run row after transitions" "succeeded true true" \
  "$(pg_psql -d yt -c "SELECT state || ' ' || (started_at IS NOT NULL) || ' ' || (ended_at >= started_at) FROM yoban.runs WHERE id = $run")"
# the history and the audit are append-only, even for the daemon
refused daemon "permission denied|append-only" "DELETE FROM yoban.run_transitions"
refused postgres "append-only" "UPDATE yoban.audit SET actor = 'nobody'"
# operators may now cancel and rerun that run, through the functions
check_status "an operator cancels through yoban_cancel" 0 as alice "SELECT yoban.yoban_cancel($run)"
check_status "an operator reruns through yoban_rerun" 0 as alice "SELECT yoban.yoban_rerun($run, 'extract')"
check "cancel and rerun requests" "cancel:alice,rerun:alice" \
  "$(pg_psql -d yt -c "SELECT string_agg(kind::text || ':' || requested_by, ',' ORDER BY id) FROM yoban.requests WHERE (args->>'run')::bigint = $run")"
# revisions: content and digest agree, recorded once
r1=$(as daemon "SELECT yoban.yoban_record_revision('nightly-batch', convert_to('version: 1', 'UTF8'))")
r2=$(as daemon "SELECT yoban.yoban_record_revision('nightly-batch', convert_to('version: 1', 'UTF8'))")
check "the same content is recorded once" "$r1" "$r2"
refused daemon "runbook_revisions_digest" "INSERT INTO yoban.runbook_revisions (runbook, sha256, content) VALUES ('x', repeat('0', 64), 'y')"
# requests are handled once
check "request_done" t "$(as daemon "SELECT yoban.yoban_request_done($req, 'host-a', true, '{\"run\": 1}')")"
check "a request is handled once" "" "$(as daemon "SELECT yoban.yoban_request_done($req, 'host-b', false)")"

# --- LISTEN hears yoban_trigger: one psql session listens, triggers through a second psql
# (alice) with \!, then keeps asking; psql prints notifications as they arrive ---
{
  echo "LISTEN yoban_requests;"
  printf '\\! "%s/psql" -X -q -At -d yt -U alice -c "SELECT yoban.yoban_trigger(%s)" > "%s/notify.id"\n' \
    "$PG_BINDIR" "'notify-test'" "$PG_BASE"
  for _ in $(seq 1 50); do echo "SELECT 1;"; done
} > "$PG_BASE/listen.sql"
heard=$(pg_psql_as daemon -d yt -f "$PG_BASE/listen.sql" 2>&1)
id=$(cat "$PG_BASE/notify.id")
matches "the trigger inside the listening session returns a request id" '+([0-9])' "$id"
contains "NOTIFY yoban_requests with the request's id arrives" \
  "Asynchronous notification \"yoban_requests\" with payload \"$id\" received" "$(grep -v '^1$' <<<"$heard")"

finish
