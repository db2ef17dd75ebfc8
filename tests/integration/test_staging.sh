#!/usr/bin/env bash
# The staging gate and rehearsals (issue 9 §2), against a real PostgreSQL and a real yoband on the
# local runner: a runbook with staging: {required: true} does not run in production until the same
# revision succeeded in staging, for trigger (CLI and psql), a scheduled fire and an approved
# request alike; `yoban trigger --staging` runs it on its staging_hosts and its success opens the
# gate; an edited runbook needs staging again; a rehearsal runs the rehearsed runbook's current
# revision on its staging hosts and its success counts; every decision is recorded.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/assert.sh"
. "$here/lib/pg.sh"
. "$here/lib/daemon.sh"
yoban=$YB_BIN/yoban

yd_setup || bail "yd_setup"
pg_create_login bob yoban_approver
cat >"$PG_BASE/op.yaml" <<YAML
database: "host=$PGHOST dbname=yoban"
state_dir: $PG_BASE/op-state
timezone: Asia/Tokyo
YAML
as() { local who=$1; shift; PGUSER=$who YOBAN_CONFIG=$PG_BASE/op.yaml "$@"; }
state() { yd_sql "SELECT state FROM yoban.runs WHERE id = $1"; }
out_dir=$PG_BASE/out
mkdir -p "$out_dir"

rb() { # NAME EXTRA-YAML STEP-TEXT
  cat >"$YD_SITE/runbooks/$1.yaml.tmp" <<YAML
version: 1
name: $1
kind: batch
staging: { required: true }
targets: { hosts: [local], staging_hosts: [local-stg] }
$2
steps:
  - name: s
    run: echo "\$YOBAN_RUN_ID $3" >>$out_dir/$1
YAML
  mv "$YD_SITE/runbooks/$1.yaml.tmp" "$YD_SITE/runbooks/$1.yaml"
}
rb gated "" one
rb fired 'schedule: { cron: "* * * * *", timezone: Asia/Tokyo, catchup: none }' one
rb patch 'approval: { approvers: 1 }' one
rb rehearsed "" one
cat >"$YD_SITE/runbooks/rehearse.yaml" <<YAML
version: 1
name: rehearse
kind: rehearsal
rehearse: rehearsed
YAML
yd_start
yd_wait_sql "SELECT count(*) FROM yoban.runbook_gates" 5 30 || bail "the daemon records the gates"

# ---- trigger: refused in production before staging, through the CLI and psql ----
out=$(as alice "$yoban" trigger gated --wait 2>&1)
check "production trigger before staging: exit 1" 1 $?
contains "the refusal names staging and the revision" 'staging required: revision' "$out"
contains "and the way out" "yoban trigger --staging gated" "$out"
out=$(PGUSER=alice yd_sql "SELECT yoban.yoban_trigger('gated')" 2>&1)
check "psql: yoban_trigger refused too" 1 $?
contains "psql: the same words" "has not succeeded in staging" "$out"
# a staging run that fails does not open the gate
out=$(as alice "$yoban" trigger gated --staging --wait --timeout 30s 2>&1)
check "trigger --staging: exit 0" 0 $?
srun=$(sed -n 's/^run //p' <<<"$out")
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $srun" succeeded 30 || true
check "the staging run succeeded" succeeded "$(state "$srun")"
check "it ran on the staging host" local-stg "$(yd_sql "SELECT string_agg(DISTINCT host, ',') FROM yoban.jobs WHERE run_id = $srun")"
out=$(as alice "$yoban" trigger gated --wait --timeout 30s 2>&1)
check "production after staging passed: exit 0" 0 $?
prun=$(sed -n 's/^run //p' <<<"$out")
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $prun" succeeded 30 || true
check "the production run succeeded" succeeded "$(state "$prun")"
check "on the production host" local "$(yd_sql "SELECT string_agg(DISTINCT host, ',') FROM yoban.jobs WHERE run_id = $prun")"
check "the gate's decision is recorded" "staging|t" \
  "$(yd_sql "SELECT gate, passed FROM yoban.gate_decisions WHERE run_id = $prun")"

# ---- an edited runbook needs staging again ----
rb gated "" two
as alice "$yoban" reload --wait --timeout 30s >/dev/null 2>&1
out=$(as alice "$yoban" trigger gated 2>&1)
check "edited: production refused again" 1 $?
contains "the new revision is named" "has not succeeded in staging" "$out"

# ---- a rehearsal's success counts for the rehearsed runbook's current revision ----
out=$(as alice "$yoban" trigger rehearsed 2>&1)
check "rehearsed: refused before the rehearsal" 1 $?
out=$(as alice "$yoban" trigger rehearse --wait --timeout 30s 2>&1)
check "trigger the rehearsal: exit 0" 0 $?
hrun=$(sed -n 's/^run //p' <<<"$out")
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $hrun" succeeded 30 || true
check "the rehearsal ran the rehearsed runbook's steps" 1 "$(grep -c "^$hrun one" "$out_dir/rehearsed")"
check "on its staging host" local-stg "$(yd_sql "SELECT string_agg(DISTINCT host, ',') FROM yoban.jobs WHERE run_id = $hrun")"
check "the rehearsal records which revision it ran" t \
  "$(yd_sql "SELECT h.revision_id = g.revision_id FROM yoban.rehearsals h JOIN yoban.runbook_gates g USING (runbook) WHERE h.run_id = $hrun")"
out=$(as alice "$yoban" trigger rehearsed --wait --timeout 30s 2>&1)
check "rehearsed: production allowed after the rehearsal" 0 $?

# ---- an approved request waits for staging, then runs ----
out=$(as alice "$yoban" request patch --reason "fix" 2>&1)
arun=$(sed -n 's/^run //p' <<<"$out")
as bob "$yoban" approve "$arun" >/dev/null 2>&1
yd_wait_sql "SELECT count(*) FROM yoban.gate_decisions WHERE run_id = $arun AND gate = 'staging' AND NOT passed" 1 30 || true
check "approved but not staged: still waiting" awaiting_approval "$(state "$arun")"
contains "the refusal is recorded with the revision" "waiting: staging required: revision" \
  "$(yd_sql "SELECT reason FROM yoban.gate_decisions WHERE run_id = $arun AND gate = 'staging'")"
sleep 5
check "recorded once, not at every look" 1 \
  "$(yd_sql "SELECT count(*) FROM yoban.gate_decisions WHERE run_id = $arun AND gate = 'staging'")"
contains "pending says what it waits for" "staging required" "$(as bob "$yoban" pending 2>&1)"
out=$(as alice "$yoban" trigger patch --staging --wait --timeout 30s 2>&1)
check "a staging trigger of a runbook needing approval is allowed" 0 $?
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $arun" succeeded 40 || true
check "after staging passed, the approved request ran" succeeded "$(state "$arun")"

# ---- a fire: recorded as a run that did not start, then allowed after staging ----
yd_wait_sql "SELECT count(*) > 0 FROM yoban.runs WHERE runbook = 'fired' AND trigger = 'schedule'" t 75 || true
first=$(yd_sql "SELECT min(id) FROM yoban.runs WHERE runbook = 'fired' AND trigger = 'schedule'")
check "the fire before staging is skipped" skipped "$(state "$first")"
contains "with the staging reason" "has not succeeded in staging" "$(yd_sql "SELECT reason FROM yoban.runs WHERE id = $first")"
out=$(as alice "$yoban" trigger fired --staging --wait --timeout 30s 2>&1)
frun=$(sed -n 's/^run //p' <<<"$out")
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $frun" succeeded 30 || true
yd_wait_sql "SELECT count(*) > 0 FROM yoban.runs WHERE runbook = 'fired' AND trigger = 'schedule' AND id > $frun AND state = 'succeeded'" t 75 || true
check "the next fire after staging ran" t \
  "$(yd_sql "SELECT count(*) > 0 FROM yoban.runs WHERE runbook = 'fired' AND trigger = 'schedule' AND id > $frun AND state = 'succeeded'")"

# ---- plan shows the gate and this revision's last staging result ----
out=$(as alice "$yoban" plan "$YD_SITE/runbooks/gated.yaml" --config "$YD_SITE/yoban.yaml" 2>&1)
contains "plan shows the staging requirement" "staging: required" "$out"
contains "plan shows this revision's staging result" "staging result of this revision: none yet" "$out"
out=$(as alice "$yoban" plan "$YD_SITE/runbooks/rehearsed.yaml" --config "$YD_SITE/yoban.yaml" 2>&1)
contains "plan names the rehearsal that passed" "(rehearsal rehearse) succeeded" "$out"

finish
