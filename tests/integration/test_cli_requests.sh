#!/usr/bin/env bash
# The request commands say what happened (issue 8 §9), against a real PostgreSQL and a real
# yoband: trigger/rerun --wait report a run that did not start (skipped by `concurrency: forbid`,
# failed at once for want of staging hosts) with its state and reason and exit 1; reload reports
# the files the DAEMON found invalid (its site config, inventory, runbooks: the operator's config
# here names only the database, as on another host) as FILE:LINE:COL and exits 1; reload takes
# --wait/--timeout/--format json like the others; a reviewer's reload is refused in words; a JSON
# null parameter is refused by yoban_trigger; --version is the project's version.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/assert.sh"
. "$here/lib/pg.sh"
. "$here/lib/daemon.sh"
yoban=$YB_BIN/yoban

jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# ---- no database needed ----
want=$(sed -n 's/^project(yoban VERSION \([0-9.]*\).*/\1/p' "$YB_SOURCE_DIR/CMakeLists.txt")
check "yoban --version is project(VERSION)" "yoban $want" "$("$yoban" --version)"
out=$("$yoban" reload --bogus 2>&1)
check "reload unknown option: exit 2" 2 $?
check "one hint, not two" 1 "$(grep -o "yoban reload --help" <<<"$out" | wc -l)"
"$yoban" reload --timeout 2>/dev/null; check "reload --timeout without a value: exit 2" 2 $?

yd_setup || bail "yd_setup"
pg_create_login rita yoban_reviewer
# The operators' own config names only the database (no inventory, no runbooks): what reload
# reports must come from yoband's files, as when it runs on another host.
cat >"$PG_BASE/op.yaml" <<YAML
database: "host=$PGHOST dbname=yoban"
state_dir: $PG_BASE/op-state
timezone: Asia/Tokyo
YAML
as() { local who=$1; shift; PGUSER=$who YOBAN_CONFIG=$PG_BASE/op.yaml "$@"; }

yd_runbook slow 'concurrency: forbid
targets: { hosts: [local] }
steps:
  - name: nap
    run: sleep 8'
yd_runbook nostage 'targets: { hosts: [local] }
steps:
  - name: hi
    run: echo hi'
yd_runbook nulls 'targets: { hosts: [local] }
params:
  day: { default: today }
steps:
  - name: show
    run: echo "day=$YOBAN_PARAM_DAY"'
yd_start
for _ in $(seq 100); do as rita "$yoban" status >/dev/null 2>&1 && break; sleep 0.1; done

# ---- reload: --wait is accepted, the answer is in words ----
out=$(as alice "$yoban" reload --wait --timeout 30s 2>&1)
check "reload --wait: exit 0" 0 $?
contains "reload says how many runbooks" "reloaded: 3 runbooks scheduled" "$out"
out=$(as alice "$yoban" reload --format json --timeout 30s)
check "reload --format json: exit 0" 0 $?
check "reload json" "True True 3 0" "$(jq_py 'd["handled"], d["reloaded"], d["runbooks"], len(d["diagnostics"])' <<<"$out" | tr '\n' ' ' | sed 's/ $//')"
out=$(as rita "$yoban" reload 2>&1)
check "a reviewer's reload: exit 1" 1 $?
check "a reviewer's reload in words" "yoban: error: permission denied: role 'rita' is not a member of yoban_operator (ask an admin to grant it)" "$out"
out=$(as alice "$yoban" reload --no-wait 2>&1)
check "reload --no-wait: exit 0" 0 $?
contains "reload --no-wait prints the request" "request " "$out"

# ---- trigger --wait: a run that started ----
out=$(as alice "$yoban" trigger slow --wait --timeout 30s 2>&1)
check "trigger --wait of a run that starts: exit 0" 0 $?
first=$(sed -n 's/^run //p' <<<"$out")
contains "it says the run is running" "state running" "$out"

# ---- a run skipped by concurrency: forbid ----
out=$(as alice "$yoban" trigger slow --wait --timeout 30s 2>&1)
check "trigger --wait of a skipped run: exit 1" 1 $?
second=$(sed -n 's/^run //p' <<<"$out")
contains "the skipped run is named" "state skipped" "$out"
contains "with its reason" "concurrency forbid: run $first is still running" "$out"
contains "and the error says it did not start" "run $second ended without starting (skipped): concurrency forbid" "$out"
out=$(as alice "$yoban" trigger slow --wait --timeout 30s --format json)
check "json: exit 1" 1 $?
check "json: state, started, reason" "skipped False concurrency forbid: run $first is still running" \
  "$(jq_py 'd["state"], d["started"], d["reason"]' <<<"$out" | tr '\n' ' ' | sed 's/ $//')"
out=$(as alice "$yoban" rerun "$first" --wait --timeout 30s 2>&1)
check "rerun --wait of a skipped run: exit 1" 1 $?
contains "rerun names the state" "state skipped" "$out"

# ---- a run that fails at once: staging with no staging_hosts ----
out=$(as alice "$yoban" trigger nostage --staging --wait --timeout 30s 2>&1)
check "trigger --wait of a run failed at once: exit 1" 1 $?
contains "failed, and why" "ended without starting (failed): the runbook has no staging_hosts for a staging run" "$out"
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $first" succeeded 30

# ---- a JSON null parameter is refused, not turned into "null" ----
out=$(PGUSER=alice yd_sql "SELECT yoban.yoban_trigger('nulls', '{\"day\": null}')" 2>&1)
check "null parameter refused" 1 $?
contains "the refusal names the parameter" 'parameter "day" is null' "$out"
check "no request was written" 0 "$(yd_sql "SELECT count(*) FROM yoban.requests WHERE args->'params' ? 'day'")"

# ---- reload with a broken inventory: the daemon's file, line and column ----
cp "$YD_SITE/inventory.yaml" "$PG_BASE/inventory.good"
printf 'hosts:\n  local: { transport: local, environment: production }\n  bad: [\n' >"$YD_SITE/inventory.yaml"
out=$(as alice "$yoban" reload --timeout 30s 2>&1)
check "reload with a broken inventory: exit 1" 1 $?
check "names the inventory with line and column" 1 "$(grep -Ec "^$YD_SITE/inventory.yaml:[0-9]+:[0-9]+: error: " <<<"$out")"
contains "says the old set stays" "keeps the previous runbooks scheduled" "$out"
out=$(as alice "$yoban" reload --timeout 30s --format json 2>/dev/null)
check "json: not reloaded, diagnostics with a line" "False True" \
  "$(jq_py 'd["reloaded"], d["diagnostics"][0]["line"] > 0' <<<"$out" | tr '\n' ' ' | sed 's/ $//')"
cp "$PG_BASE/inventory.good" "$YD_SITE/inventory.yaml"

# ---- reload with a broken site config ----
cp "$YD_SITE/yoban.yaml" "$PG_BASE/yoban.good"
printf 'timezone: [oops\n' >>"$YD_SITE/yoban.yaml"
out=$(as alice "$yoban" reload --timeout 30s 2>&1)
check "reload with a broken site config: exit 1" 1 $?
check "names the site config with line and column" 1 "$(grep -Ec "^$YD_SITE/yoban.yaml:[0-9]+:[0-9]+: error: " <<<"$out")"
cp "$PG_BASE/yoban.good" "$YD_SITE/yoban.yaml"

# ---- reload with a new runbook file that does not validate ----
printf 'version: 1\nname: broken\nkind: batch\nsteps: oops\n' >"$YD_SITE/runbooks/broken.yaml"
out=$(as alice "$yoban" reload --timeout 30s 2>&1)
check "reload with a broken new runbook: exit 1" 1 $?
contains "names the runbook file, line and column" "$YD_SITE/runbooks/broken.yaml:4:8: error: " "$out"
rm -f "$YD_SITE/runbooks/broken.yaml"
out=$(as alice "$yoban" reload --timeout 30s 2>&1)
check "reload after the fix: exit 0" 0 $?

# ---- no daemon: reload says so ----
yd_stop_all
out=$(as alice "$yoban" reload --timeout 1s 2>&1)
check "reload without a daemon: exit 1" 1 $?
contains "and says so" "has not picked up request" "$out"

# finish checks the yoband log for a sanitizer report and shows its tail on failure
finish
