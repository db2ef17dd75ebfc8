#!/usr/bin/env bash
# Who may do what, checked with distinct login roles on a real PostgreSQL 15:
#   alice (yoban_operator)  changes nothing directly, triggers through yoban_trigger (recorded as
#                           alice), cancels and reruns through their functions
#   bob (yoban_reviewer), carol (yoban_approver)  read, cannot trigger
#   mallory (no yoban role) cannot even read
#   daemon (yoban_daemon)   claims scheduled fires exactly once, moves runs compare-and-set
set -euo pipefail
src=${YB_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${YB_BIN:-$src/build/bin}
. "$src/tests/integration/lib/pg.sh"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
# as ROLE SQL: must succeed, prints the result
as() { local r=$1; shift; pg_psql_as "$r" -d yt -c "$*" 2>&1 || { fail "as $r: $* -> error"; return 0; }; }
# refused ROLE PATTERN SQL: must fail with an error matching PATTERN
refused() {
  local r=$1 pat=$2 out; shift 2
  if out=$(pg_psql_as "$r" -d yt -c "$*" 2>&1); then fail "as $r: '$*' was allowed: $out"; return 0; fi
  grep -qE -- "$pat" <<<"$out" || fail "as $r: '$*' failed, but not with /$pat/: $out"
}

pg_start
pg_psql -c "CREATE DATABASE yt"
"$bin/yoban" db migrate --database "dbname=yt" >/dev/null
pg_create_login alice yoban_operator
pg_create_login bob yoban_reviewer
pg_create_login carol yoban_approver
pg_create_login daemon yoban_daemon
pg_create_login mallory

# the group roles: NOLOGIN
[ "$(pg_psql -d yt -c "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'yoban\_%' AND NOT rolcanlogin")" -ge 5 ] ||
  fail "the yoban_* roles should exist and be NOLOGIN"

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
[[ "$req" =~ ^[0-9]+$ ]] || fail "yoban_trigger returned '$req'"
row=$(pg_psql -d yt -c "SELECT kind, requested_by, args->>'runbook', args->>'mode', args->'params'->>'business_date' FROM yoban.requests WHERE id = $req")
[ "$row" = "trigger|alice|nightly-batch|staging|2026-04-01" ] || fail "request row: $row"
[ "$(pg_psql -d yt -c "SELECT actor || ' ' || action FROM yoban.audit WHERE request_id = $req")" = "alice request:trigger" ] ||
  fail "audit row for request $req"
# SET ROLE cannot borrow someone else's name: session_user is recorded
pg_psql -d yt -c "GRANT alice TO bob"
req2=$(as bob "SET ROLE alice; SELECT yoban.yoban_trigger('nightly-batch')" | tail -1)
[ "$(pg_psql -d yt -c "SELECT requested_by FROM yoban.requests WHERE id = $req2")" = bob ] ||
  fail "a request made after SET ROLE alice must name bob"
pg_psql -d yt -c "REVOKE alice FROM bob"
# bad arguments are refused with words
refused alice "bad runbook name" "SELECT yoban.yoban_trigger('Bad Name;--')"
refused alice "params must be a JSON object" "SELECT yoban.yoban_trigger('x', '[1]')"
refused alice "no run 424242" "SELECT yoban.yoban_cancel(424242)"

# --- readers ---
for r in bob carol; do
  [ "$(as $r "SELECT count(*) >= 1 FROM yoban.requests")" = t ] || fail "$r cannot read requests"
  as $r "SELECT count(*) FROM yoban.runs, yoban.audit, yoban.jobs, yoban.output_chunks, yoban.heartbeats" >/dev/null
  refused $r "permission denied" "SELECT yoban.yoban_trigger('nightly-batch')"
  refused $r "permission denied" "INSERT INTO yoban.requests (kind) VALUES ('reload')"
done
refused mallory "permission denied" "SELECT * FROM yoban.runs"
refused mallory "permission denied" "SELECT yoban.yoban_trigger('x')"

# --- the daemon: exactly once ---
at="2026-04-01 01:30:00+09"
first=$(as daemon "SELECT run_id || ' ' || claimed FROM yoban.yoban_claim_fire('nightly-batch', '$at')")
run=${first% *}
[ "${first#* }" = true ] || fail "first claim: $first"
second=$(as daemon "SELECT run_id || ' ' || claimed FROM yoban.yoban_claim_fire('nightly-batch', '$at')")
[ "$second" = "$run false" ] || fail "second claim of the same fire should say already claimed (run $run, false): $second"
# the same instant written in another zone is the same fire
third=$(as daemon "SELECT claimed FROM yoban.yoban_claim_fire('nightly-batch', '2026-03-31 16:30:00+00')")
[ "$third" = f ] || fail "the same instant in UTC was claimed again"
refused daemon "duplicate key value violates unique constraint \"runs_fire_key\"" \
  "INSERT INTO yoban.runs (runbook, trigger, scheduled_for, mode) VALUES ('nightly-batch', 'schedule', '$at', 'production')"
refused daemon "runs_fire_key" \
  "INSERT INTO yoban.runs (runbook, trigger, scheduled_for, mode) VALUES ('nightly-batch', 'catchup', '$at', 'production')"
[ "$(as daemon "SELECT claimed FROM yoban.yoban_claim_fire('nightly-batch', '$at', 'staging')")" = t ] ||
  fail "the staging fire at the same time is a different fire"
[ "$(pg_psql -d yt -c "SELECT count(*) FROM yoban.runs WHERE runbook = 'nightly-batch'")" -eq 2 ] || fail "run count"
# manual runs at the same time are not fires: any number
as daemon "SELECT yoban.yoban_create_run('nightly-batch', 'manual', 'production', 'alice', $req)" >/dev/null
as daemon "SELECT yoban.yoban_create_run('nightly-batch', 'manual', 'production', 'alice', $req)" >/dev/null
# transitions: compare-and-set, with history
[ "$(as daemon "SELECT yoban.yoban_run_transition($run, 'pending', 'running')")" = t ] || fail "pending -> running"
[ "$(as daemon "SELECT yoban.yoban_run_transition($run, 'pending', 'running')")" = f ] || fail "a stale transition moved the run"
[ "$(as daemon "SELECT yoban.yoban_run_transition($run, 'running', 'succeeded', 'exit 0')")" = t ] || fail "running -> succeeded"
refused daemon "is final" "SELECT yoban.yoban_run_transition($run, 'succeeded', 'running')"
hist=$(pg_psql -d yt -c "SELECT coalesce(from_state::text, '-') || '>' || to_state FROM yoban.run_transitions WHERE run_id = $run ORDER BY id" | tr '\n' ' ')
[ "$hist" = "->pending pending>running running>succeeded " ] || fail "history: $hist"
[ "$(pg_psql -d yt -c "SELECT state || ' ' || (started_at IS NOT NULL) || ' ' || (ended_at >= started_at) FROM yoban.runs WHERE id = $run")" = "succeeded true true" ] ||
  fail "run row after transitions"
# the history and the audit are append-only, even for the daemon
refused daemon "permission denied|append-only" "DELETE FROM yoban.run_transitions"
refused postgres "append-only" "UPDATE yoban.audit SET actor = 'nobody'"
# operators may now cancel and rerun that run, through the functions
as alice "SELECT yoban.yoban_cancel($run)" >/dev/null
as alice "SELECT yoban.yoban_rerun($run, 'extract')" >/dev/null
[ "$(pg_psql -d yt -c "SELECT string_agg(kind::text || ':' || requested_by, ',' ORDER BY id) FROM yoban.requests WHERE (args->>'run')::bigint = $run")" = "cancel:alice,rerun:alice" ] ||
  fail "cancel and rerun requests"
# revisions: content and digest agree, recorded once
r1=$(as daemon "SELECT yoban.yoban_record_revision('nightly-batch', convert_to('version: 1', 'UTF8'))")
r2=$(as daemon "SELECT yoban.yoban_record_revision('nightly-batch', convert_to('version: 1', 'UTF8'))")
[ "$r1" = "$r2" ] || fail "the same content recorded twice ($r1, $r2)"
refused daemon "runbook_revisions_digest" "INSERT INTO yoban.runbook_revisions (runbook, sha256, content) VALUES ('x', repeat('0', 64), 'y')"
# requests are handled once
[ "$(as daemon "SELECT yoban.yoban_request_done($req, 'host-a', true, '{\"run\": 1}')")" = t ] || fail "request_done"
[ -z "$(as daemon "SELECT yoban.yoban_request_done($req, 'host-b', false)")" ] || fail "a request was handled twice"

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
[[ "$id" =~ ^[0-9]+$ ]] || fail "the trigger inside the listening session returned '$id'"
grep -qF "Asynchronous notification \"yoban_requests\" with payload \"$id\" received" <<<"$heard" ||
  fail "no NOTIFY yoban_requests with payload $id arrived: $(grep -v '^1$' <<<"$heard")"

[ "$fails" -eq 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "ok: db roles"
