#!/usr/bin/env bash
# Requests and approvals with separation of duties (issue 9 §1, §4), against a real PostgreSQL and
# a real yoband running on the local runner: the requester cannot approve; one person approving
# twice counts once; too few approvers keep the run waiting; the lead time holds; a changed runbook
# or procedure document voids the approval and the run does not start, saying which changed;
# trigger of a runbook that needs approval is refused (pointing at yoban request); a scheduled
# runbook with approval: fires only for an approved revision, else the fire is recorded as a run
# that did not start. Every refusal is checked through the CLI and through psql (the rules are
# SECURITY DEFINER functions).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/assert.sh"
. "$here/lib/pg.sh"
. "$here/lib/daemon.sh"
yoban=$YB_BIN/yoban

jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

yd_setup || bail "yd_setup"
pg_create_login bob yoban_approver
pg_create_login carol yoban_approver
pg_create_login dave yoban_approver yoban_operator
# The people's own config names only the database: each connects as their own login.
cat >"$PG_BASE/op.yaml" <<YAML
database: "host=$PGHOST dbname=yoban"
state_dir: $PG_BASE/op-state
timezone: Asia/Tokyo
YAML
as() { local who=$1; shift; PGUSER=$who YOBAN_CONFIG=$PG_BASE/op.yaml "$@"; }
sql_as() { local who=$1; shift; PGUSER=$who yd_sql "$1"; }

mkdir -p "$YD_SITE/runbooks/procedures"
proc=$YD_SITE/runbooks/procedures/fix.md
printf '# fix\n1. run the patch\n' >"$proc"
marker=$PG_BASE/patched
patch_runbook() { # LEAD_TIME [extra text in the step]
  cat >"$YD_SITE/runbooks/fix.yaml.tmp" <<YAML
version: 1
name: fix
kind: batch
approval: { approvers: 2, lead_time: $1, procedure: procedures/fix.md }
targets: { hosts: [local] }
steps:
  - name: patch
    run: echo "patched by run \$YOBAN_RUN_ID ${2:-}" >>$marker
YAML
  mv "$YD_SITE/runbooks/fix.yaml.tmp" "$YD_SITE/runbooks/fix.yaml"
}
patch_runbook 4s
cat >"$YD_SITE/runbooks/nightly.yaml" <<YAML
version: 1
name: nightly
kind: batch
schedule: { cron: "* * * * *", timezone: Asia/Tokyo, catchup: none }
approval: { approvers: 1 }
targets: { hosts: [local] }
steps:
  - name: hi
    run: echo nightly
YAML
yd_start
yd_wait_sql "SELECT count(*) FROM yoban.runbook_gates" 2 30 || bail "the daemon records the gates"
check "the gate pins the procedure's digest" "$(sha256sum "$proc" | cut -c1-64)" \
  "$(yd_sql "SELECT procedure_sha256 FROM yoban.runbook_gates WHERE runbook = 'fix'")"

# ---- trigger of a runbook that needs approval: refused, pointing at yoban request ----
out=$(as alice "$yoban" trigger fix 2>&1)
check "trigger of an approval runbook: exit 1" 1 $?
contains "the refusal says to use yoban request" "yoban request fix" "$out"
out=$(sql_as alice "SELECT yoban.yoban_trigger('fix')" 2>&1)
check "psql: yoban_trigger refused too" 1 $?
contains "psql: the same words" 'runbook "fix" needs approval' "$out"
check "no trigger request was written" 0 "$(yd_sql "SELECT count(*) FROM yoban.requests WHERE args->>'runbook' = 'fix'")"

# ---- a request: run N, waiting, pinned ----
out=$(as alice "$yoban" request fix --reason "INC-1: wrong codes" 2>&1)
check "request: exit 0" 0 $?
run=$(sed -n 's/^run //p' <<<"$out")
matches "request prints run N" '[1-9]*' "$run"
check "the run waits for approval" awaiting_approval "$(yd_sql "SELECT state FROM yoban.runs WHERE id = $run")"
check "pinned to the revision and the procedure digest" t \
  "$(yd_sql "SELECT q.revision_id = g.revision_id AND q.procedure_sha256 = g.procedure_sha256 FROM yoban.approval_requests q JOIN yoban.runbook_gates g USING (runbook) WHERE q.run_id = $run")"
out=$(as bob "$yoban" pending --format json)
check "pending lists it with 0 of 2" "$run alice 0 2 INC-1: wrong codes" \
  "$(jq_py '" ".join(str(x[k]) for x in d if x["run_id"] == '"$run"' for k in ("run_id", "requested_by", "approvals", "needed", "reason"))' <<<"$out")"
out=$(as bob "$yoban" pending)
contains "pending (text) names the procedure digest" "$(sha256sum "$proc" | cut -c1-12)" "$out"

# ---- self-approval refused (CLI and psql); the requester holds yoban_approver too ----
out=$(as dave "$yoban" request fix --reason "dave's own" 2>&1)
check "dave (operator and approver) requests: exit 0" 0 $?
drun=$(sed -n 's/^run //p' <<<"$out")
out=$(as dave "$yoban" approve "$drun" 2>&1)
check "self-approval through the CLI: exit 1" 1 $?
contains "self-approval refused in words" "it must be approved by someone else" "$out"
out=$(sql_as dave "SELECT yoban.yoban_approve($drun)" 2>&1)
check "self-approval through psql: refused" 1 $?
check "no approval was recorded" 0 "$(yd_sql "SELECT count(*) FROM yoban.approvals WHERE run_id = $drun")"
out=$(sql_as alice "SELECT yoban.yoban_approve($run)" 2>&1)
check "psql: an operator who is not an approver: refused" 1 $?
out=$(as alice "$yoban" approve "$run" 2>&1)
check "CLI: an operator who is not an approver: exit 1" 1 $?
contains "the refusal names the role" "yoban_approver" "$out"
# no way around the functions: approvers and operators write no table directly
out=$(sql_as bob "INSERT INTO yoban.approvals (run_id, approver, revision_id) VALUES ($drun, 'bob', 1)" 2>&1)
check "psql: an approver cannot insert an approval row" 1 $?
out=$(sql_as dave "UPDATE yoban.approval_requests SET state = 'approved', start_after = now() WHERE run_id = $drun" 2>&1)
check "psql: the requester cannot mark the request approved" 1 $?
out=$(sql_as dave "UPDATE yoban.runs SET state = 'pending' WHERE id = $drun" 2>&1)
check "psql: the requester cannot move the run" 1 $?
out=$(sql_as alice "SELECT yoban.yoban_reject($drun, 'no')" 2>&1)
check "psql: an operator cannot reject" 1 $?
check "the request still waits, untouched" "awaiting_approval|waiting" \
  "$(yd_sql "SELECT r.state, q.state FROM yoban.runs r JOIN yoban.approval_requests q ON q.run_id = r.id WHERE r.id = $drun")"
# SET ROLE does not help: session_user is the login
out=$(sql_as dave "SET ROLE bob; SELECT yoban.yoban_approve($drun)" 2>&1)
check "SET ROLE to another approver does not make it someone else's approval" 1 $?

# ---- one person counts once; too few approvers keep the run waiting ----
out=$(as bob "$yoban" approve "$run" --comment "checked the procedure" 2>&1)
check "bob approves: exit 0" 0 $?
contains "1 of 2" "1 of 2 approvals" "$out"
out=$(as bob "$yoban" approve "$run" 2>&1)
check "bob again: exit 1" 1 $?
contains "one person counts once" "one person counts once" "$out"
out=$(sql_as bob "SELECT yoban.yoban_approve($run)" 2>&1)
check "bob again through psql: refused" 1 $?
check "bob counts once" 1 "$(yd_sql "SELECT count(*) FROM yoban.approvals WHERE run_id = $run")"
sleep 3
check "with 1 of 2 the run still waits" awaiting_approval "$(yd_sql "SELECT state FROM yoban.runs WHERE id = $run")"
check "nothing ran" no "$( [ -e "$marker" ] && echo yes || echo no)"

# ---- the second approval: the lead time holds ----
out=$(as carol "$yoban" approve "$run" --comment ok 2>&1)
check "carol approves: exit 0" 0 $?
contains "approved, with its earliest start" "approved: 2 of 2" "$out"
approved_at=$(yd_sql "SELECT extract(epoch FROM approved_at) FROM yoban.approval_requests WHERE run_id = $run")
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $run" succeeded 40 || true
check "the approved run ran" succeeded "$(yd_sql "SELECT state FROM yoban.runs WHERE id = $run")"
check "not before lead_time (4s) after the last approval" t \
  "$(yd_sql "SELECT extract(epoch FROM started_at) >= $approved_at + 4 FROM yoban.runs WHERE id = $run")"
check "the patch ran once" 1 "$(grep -c "patched by run $run" "$marker")"
check "the evidence: requester, both approvers, digests" "alice|bob,carol|t" \
  "$(yd_sql "SELECT q.requested_by, string_agg(a.approver, ',' ORDER BY a.approver), bool_and(a.procedure_sha256 = q.procedure_sha256) FROM yoban.approval_requests q JOIN yoban.approvals a USING (run_id) WHERE q.run_id = $run GROUP BY q.requested_by")"
check "the start is a recorded gate decision" 1 \
  "$(yd_sql "SELECT count(*) FROM yoban.gate_decisions WHERE run_id = $run AND gate = 'approval' AND passed")"
check "audit: request and two approvals" "approval:approve approval:approve approval:request" \
  "$(yd_sql "SELECT string_agg(action, ' ' ORDER BY action) FROM yoban.audit WHERE run_id = $run AND action LIKE 'approval:%'")"

# ---- an edited procedure voids the approval ----
out=$(as alice "$yoban" request fix --reason "INC-2" 2>&1)
run2=$(sed -n 's/^run //p' <<<"$out")
as bob "$yoban" approve "$run2" >/dev/null 2>&1
printf '# fix\n1. run the patch\n2. and something else\n' >"$proc"
as alice "$yoban" reload --wait --timeout 30s >/dev/null 2>&1
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $run2" skipped 30 || true
check "procedure changed: the run did not start" skipped "$(yd_sql "SELECT state FROM yoban.runs WHERE id = $run2")"
contains "the reason names the procedure document" "the procedure document changed" \
  "$(yd_sql "SELECT reason FROM yoban.runs WHERE id = $run2")"
out=$(as carol "$yoban" approve "$run2" 2>&1)
check "approving a void request: exit 1" 1 $?
check "the voiding is recorded" 1 "$(yd_sql "SELECT count(*) FROM yoban.audit WHERE run_id = $run2 AND action = 'approval:void'")"

# ---- an edited runbook voids the approval (found at approval time: psql says which) ----
out=$(as alice "$yoban" request fix --reason "INC-3" 2>&1)
run3=$(sed -n 's/^run //p' <<<"$out")
as bob "$yoban" approve "$run3" >/dev/null 2>&1
patch_runbook 4s "(edited)"
as alice "$yoban" reload --wait --timeout 30s >/dev/null 2>&1
out=$(sql_as carol "SELECT yoban.yoban_approve($run3)" 2>&1)
check "the second approval after an edit: no run" skipped "$(yd_sql "SELECT state FROM yoban.runs WHERE id = $run3")"
contains "the run says the runbook revision changed" "the runbook revision changed" \
  "$(yd_sql "SELECT reason FROM yoban.runs WHERE id = $run3")"
check "nothing else ran" 1 "$(wc -l <"$marker")"

# ---- reject ----
out=$(as alice "$yoban" request fix --reason "INC-4" 2>&1)
run4=$(sed -n 's/^run //p' <<<"$out")
out=$(as carol "$yoban" reject "$run4" 2>&1)
check "reject without a comment: exit 2" 2 $?
out=$(as carol "$yoban" reject "$run4" --comment "wrong table" 2>&1)
check "reject: exit 0" 0 $?
check "rejected: cancelled with who and why" "cancelled|rejected by carol: wrong table" \
  "$(yd_sql "SELECT state, reason FROM yoban.runs WHERE id = $run4")"
out=$(as bob "$yoban" approve "$run4" 2>&1)
check "approving a rejected request: exit 1" 1 $?

# ---- --emergency: the site's emergency lead time (0), marked in the evidence ----
out=$(as alice "$yoban" request fix --emergency --reason "INC-6: outage" 2>&1)
run6=$(sed -n 's/^run //p' <<<"$out")
contains "pending marks it" "EMERGENCY" "$(as bob "$yoban" pending 2>&1)"
as bob "$yoban" approve "$run6" >/dev/null 2>&1
as carol "$yoban" approve "$run6" >/dev/null 2>&1
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $run6" succeeded 30 || true
check "the emergency ran without the runbook's lead time" "succeeded|t|00:00:00" \
  "$(yd_sql "SELECT r.state, q.emergency, q.lead_time FROM yoban.runs r JOIN yoban.approval_requests q ON q.run_id = r.id WHERE r.id = $run6")"
contains "the start is marked as an emergency" "(emergency)" \
  "$(yd_sql "SELECT reason FROM yoban.gate_decisions WHERE run_id = $run6 AND gate = 'approval'")"

# ---- --at: no earlier than asked ----
at=$(date -u -d '+12 seconds' +%Y-%m-%dT%H:%M:%SZ)
out=$(as alice "$yoban" request fix --at "$at" --reason "INC-5" 2>&1)
run5=$(sed -n 's/^run //p' <<<"$out")
as bob "$yoban" approve "$run5" >/dev/null 2>&1
as carol "$yoban" approve "$run5" >/dev/null 2>&1
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $run5" succeeded 60 || true
check "--at: it ran" succeeded "$(yd_sql "SELECT state FROM yoban.runs WHERE id = $run5")"
check "--at: not before the time asked" t \
  "$(yd_sql "SELECT started_at >= '$at'::timestamptz FROM yoban.runs WHERE id = $run5")"

# ---- a scheduled runbook with approval: an unapproved revision's fire is recorded, not run ----
yd_wait_sql "SELECT count(*) > 0 FROM yoban.runs WHERE runbook = 'nightly'" t 75 || true
check "the unapproved fire is a run that did not start" skipped \
  "$(yd_sql "SELECT state FROM yoban.runs WHERE runbook = 'nightly' ORDER BY id LIMIT 1")"
contains "with the reason" "is not approved (0 of 1 approvals): an approver runs yoban approve --revision nightly" \
  "$(yd_sql "SELECT reason FROM yoban.runs WHERE runbook = 'nightly' ORDER BY id LIMIT 1")"
out=$(sql_as alice "SELECT yoban.yoban_approve_revision('nightly')" 2>&1)
check "an operator cannot approve a revision" 1 $?
out=$(as bob "$yoban" approve --revision nightly --comment "reviewed" 2>&1)
check "approve --revision: exit 0" 0 $?
contains "it says the revision is approved" "approved" "$out"
out=$(as bob "$yoban" approve --revision nightly 2>&1)
check "approve --revision twice: exit 1" 1 $?
first=$(yd_sql "SELECT max(id) FROM yoban.runs WHERE runbook = 'nightly'")
yd_wait_sql "SELECT count(*) > 0 FROM yoban.runs WHERE runbook = 'nightly' AND id > $first AND state = 'succeeded'" t 75 || true
check "the approved revision's next fire ran" t \
  "$(yd_sql "SELECT count(*) > 0 FROM yoban.runs WHERE runbook = 'nightly' AND id > $first AND state = 'succeeded'")"

# ---- show: the approvals and gate decisions of a run ----
out=$(as bob "$yoban" show "$run" 2>&1)
contains "show lists the approvers" "approved by bob" "$out"
contains "show lists the gate decisions" "gate approval" "$out"

finish
