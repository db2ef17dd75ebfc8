#!/usr/bin/env bash
# Parameter names, end to end through yoband: a runbook declares `batch-date`, an operator passes
# exactly that with `yoban trigger --param batch-date=...`, and the step sees it as
# $YOBAN_PARAM_BATCH_DATE (upper case, '-' -> '_'), as `yoban logs` shows. The daemon's own
# advice for a missing parameter is a command trigger takes; a name the runbook does not declare
# is refused by the daemon, one no runbook could declare by trigger itself; two parameters that
# would land in one variable are a load error.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/assert.sh"
. "$here/lib/pg.sh"
. "$here/lib/daemon.sh"

yd_setup || bail "yd_setup"
yd_runbook close-day 'targets: { hosts: [local] }
params:
  batch-date: { description: the business day being closed }
  ward: { default: chuo }
steps:
  - name: show
    run: echo "date=$YOBAN_PARAM_BATCH_DATE ward=$YOBAN_PARAM_WARD"'

# The operator's CLI logs in as alice: its own config names no user (yoband's names its own).
mkdir -p "$PG_BASE/cli"
printf 'database: "host=%s dbname=yoban"\n' "$PGHOST" >"$PG_BASE/cli/yoban.yaml"
cli() { PGUSER=alice "$YB_BIN/yoban" "$@" --config "$PG_BASE/cli/yoban.yaml"; }

"$YB_BIN/yoban" validate "$YD_SITE/runbooks/close-day.yaml" >/dev/null 2>&1
check "a runbook with parameter 'batch-date' validates" 0 "$?"

yd_start
for _ in $(seq 100); do cli status >/dev/null 2>&1 && break; sleep 0.1; done

# the name as the runbook writes it
out=$(cli trigger close-day --param batch-date=2026-12-01 --wait --timeout 30s 2>&1)
check "trigger --param batch-date=... is taken" 0 "$?"
run=$(sed -n 's/^run \([0-9]*\).*/\1/p' <<<"$out")
check_status "trigger --wait names the run" 0 test -n "$run"
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = ${run:-0}" succeeded 30
check "the run succeeded" 0 "$?"
check "the stored params keep the name as written" 2026-12-01 \
  "$(yd_sql "SELECT params->>'batch-date' FROM yoban.runs WHERE id = ${run:-0}")"
check "the step saw YOBAN_PARAM_BATCH_DATE (yoban logs)" "date=2026-12-01 ward=chuo" \
  "$(cli logs "${run:-0}" 2>/dev/null)"

# missing: the daemon says what to pass, and that is what trigger takes
out=$(cli trigger close-day --wait --timeout 30s 2>&1)
check_status "a missing parameter fails the trigger" 0 test "$?" -ne 0
contains "the daemon names the option to give" "--param batch-date=VALUE" "$out"
hint=$(grep -o -- '--param batch-date=VALUE' <<<"$out" | head -1)
cli trigger close-day ${hint/VALUE/2026-12-02} --wait --timeout 30s >/dev/null 2>&1
check "the daemon's advice, followed literally, is accepted" 0 "$?"

# another spelling is another name: refused by the daemon, naming it
out=$(cli trigger close-day --param batch_date=2026-12-01 --wait --timeout 30s 2>&1)
check_status "a name the runbook does not declare fails" 0 test "$?" -ne 0
contains "and is named" "unknown parameter 'batch_date' for runbook 'close-day'" "$out"

# a name no runbook may declare never leaves the command line
for bad in 9lives _date 'batch date' 'a.b'; do
  out=$(cli trigger close-day --param "$bad=1" 2>&1)
  check "trigger refuses parameter name '$bad' (exit 2)" 2 "$?"
  contains "  and says the rule" "letters, digits, '_' and '-', starting with a letter" "$out"
done

# two names, one variable: a load error naming both
yd_runbook twins 'targets: { hosts: [local] }
params:
  batch-date: x
  batch_date: y
steps:
  - name: s
    run: "true"'
out=$("$YB_BIN/yoban" validate "$YD_SITE/runbooks/twins.yaml" 2>&1)
check "two parameters for one variable do not validate" 1 "$?"
contains "  the error names both and the variable" \
  "twins.yaml:7:3: error: parameters 'batch-date' and 'batch_date' would both reach the steps as YOBAN_PARAM_BATCH_DATE: rename one of them" "$out"

# finish stops yoband, checks its log for a sanitizer report and shows the log's tail on failure
finish
