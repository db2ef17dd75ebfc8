#!/usr/bin/env bash
# yoban validate and yoban plan, as an operator would use them: the examples in runbooks/ are
# valid; every broken input in tests/data/invalid/ (a file NAME.yaml or a folder NAME/) fails
# with exit 1 and exactly the diagnostics in NAME.expected; usage errors exit 2; plan shows the
# hosts, gates and fires each example should have, and executes nothing.
set -uo pipefail
yoban="${YB_BIN:?}/yoban"
. "${YB_SOURCE_DIR:?}/tests/integration/lib/assert.sh"
cd "$YB_SOURCE_DIR" || bail "cd to the source tree"
unset YOBAN_CONFIG

# ---- the examples are valid -----------------------------------------------------------------
out=$("$yoban" validate runbooks/ 2>&1); rc=$?
check "examples validate (exit)" 0 "$rc"
check "examples validate (summary)" "ok: 6 runbooks, 1 inventory, 1 calendar, 1 site config" "$out"
for f in runbooks/*.yaml; do
  check "validate $f alone" 0 "$(status_of "$yoban" validate "$f")"
done
json=$("$yoban" validate --format json runbooks/)
contains "validate json says valid" '"valid": true' "$json"
contains "validate json counts runbooks" '"runbooks": 6' "$json"
check "validate with the config from the environment" 0 \
  "$(YOBAN_CONFIG=runbooks/yoban.yaml status_of "$yoban" validate runbooks/nightly-resident-batch.yaml)"

# ---- every broken input: exit 1 and exactly its expected lines -------------------------------
n_cases=0
for exp in tests/data/invalid/*.expected; do
  name=${exp%.expected}
  if [ -d "$name" ]; then target=$name; else target=$name.yaml; fi
  n_cases=$((n_cases+1))
  actual=$("$yoban" validate "$target" 2>&1 >/dev/null); rc=$?
  check "invalid $(basename "$name"): exit 1" 1 "$rc"
  check "invalid $(basename "$name"): diagnostics" "$(cat "$exp")" \
    "$(grep -E ': (error|warning): ' <<<"$actual")"
done
check_status "at least 25 invalid cases ($n_cases)" 0 test "$n_cases" -ge 25

# all the problems of all the files at once, sorted by file then line
all=$("$yoban" validate tests/data/invalid/unknown-key.yaml tests/data/invalid/bad-enum.yaml 2>&1)
check "several files: every error, sorted by file" \
"tests/data/invalid/bad-enum.yaml:4:7: error: 'kind' must be batch, data-patch, backup, offsite-copy or rehearsal, not 'batchh' (did you mean 'batch'?)
tests/data/invalid/bad-enum.yaml:5:14: error: 'concurrency' must be forbid, queue, replace or allow, not 'forbidd' (did you mean 'forbid'?)
tests/data/invalid/bad-enum.yaml:8:41: error: 'on_failure' must be abort or continue, not 'ignore'
tests/data/invalid/unknown-key.yaml:5:1: error: unknown key 'shedule' (did you mean 'schedule'?)
4 errors: nothing was changed, fix them and validate again" "$all"

json=$("$yoban" validate --format json tests/data/invalid/bad-cron.yaml); rc=$?
check "json diagnostics exit 1" 1 "$rc"
contains "json diagnostics: line" '"line": 4' "$json"
contains "json diagnostics: column into the cron string" '"column": 23' "$json"
contains "json diagnostics: valid false" '"valid": false' "$json"

# hostile input: a big file and a deep one are refused, not crashed on
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
head -c 5000000 /dev/zero | tr '\0' 'a' > "$tmp/big.yaml"
out=$("$yoban" validate --config tests/data/invalid/yoban.yaml "$tmp/big.yaml" 2>&1); rc=$?
check "too big: exit 1" 1 "$rc"
contains "too big: says so" "file is larger than 4194304 bytes" "$out"
{ printf 'version: 1\nname: deep\nlocks: '; printf '[%.0s' $(seq 300); printf ']%.0s' $(seq 300); echo; } > "$tmp/deep.yaml"
out=$("$yoban" validate --config tests/data/invalid/yoban.yaml "$tmp/deep.yaml" 2>&1); rc=$?
check "deep: exit 1" 1 "$rc"
contains "deep: refused" "nesting deeper than 64 levels" "$out"
printf 'a: &a ["x","x","x"]\nb: &b [*a,*a,*a]\nc: &c [*b,*b,*b]\nd: [*c,*c,*c]\n' > "$tmp/laughs.yaml"
out=$("$yoban" validate --config tests/data/invalid/yoban.yaml "$tmp/laughs.yaml" 2>&1); rc=$?
check "aliases: exit 1" 1 "$rc"
contains "aliases: refused" "aliases ('*a') are not supported" "$out"

# a symlink loop is walked once
mkdir -p "$tmp/loop/a" && cp runbooks/hello-local.yaml "$tmp/loop/a/" && ln -s "$tmp/loop" "$tmp/loop/a/back"
check "symlink loop: each file once" "ok: 1 runbook, 1 inventory, 1 calendar, 1 site config" \
  "$("$yoban" validate --config runbooks/yoban.yaml "$tmp/loop" 2>&1)"
# no PATH: the site's runbooks folder
check "no path: the site's runbooks folder" "ok: 6 runbooks, 1 inventory, 1 calendar, 1 site config" \
  "$(YOBAN_CONFIG=runbooks/yoban.yaml "$yoban" validate 2>&1)"

# ---- usage errors exit 2 -----------------------------------------------------------------
check "validate: unknown option" 2 "$(status_of "$yoban" validate --bogus runbooks/)"
check "validate: bad format" 2 "$(status_of "$yoban" validate --format yaml runbooks/)"
check "validate: missing --config file" 2 "$(status_of "$yoban" validate --config /nonexistent/yoban.yaml runbooks/)"
check "validate: nothing to check" 2 "$(cd "$tmp" && status_of "$yoban" validate)"
check "plan: no runbook" 2 "$(status_of "$yoban" plan)"
check "plan: two runbooks" 2 "$(status_of "$yoban" plan runbooks/hello-local.yaml runbooks/fileserver-backup.yaml)"
check "plan: bad --from" 2 "$(status_of "$yoban" plan runbooks/fileserver-backup.yaml --from yesterday)"
check "plan: invalid runbook exit 1" 1 "$(status_of "$yoban" plan tests/data/invalid/bad-cron.yaml)"
contains "validate --help" "usage: yoban validate" "$("$yoban" validate --help)"
contains "plan --help" "usage: yoban plan" "$("$yoban" plan --help)"

# ---- plan: what an operator checks --------------------------------------------------------
from=2026-12-25T12:00:00+09:00
p=$("$yoban" plan runbooks/nightly-resident-batch.yaml --from $from); rc=$?
check "plan nightly: exit 0" 0 "$rc"
contains "plan nightly: production host" "batch-01         ssh     yoban@192.0.2.10:22" "$p"
contains "plan nightly: staging host" "batch-stg-01     ssh     yoban@192.0.2.20:22" "$p"
contains "plan nightly: weekend skipped" \
  "2026-12-28T01:30:00+09:00  Mon  skipped closed days: 2026-12-26 土曜日, 2026-12-27 日曜日" "$p"
contains "plan nightly: year-end break skipped" "2027-01-04T01:30:00+09:00  Mon  skipped closed days: 2026-12-29 年末年始" "$p"
contains "plan nightly: step timeout of its own" "timeout 30m, 2 attempts 5m apart, on failure abort" "$p"
contains "plan nightly: runbook default timeout" "timeout 2h (runbook default), 2 attempts 5m apart, on failure continue" "$p"
contains "plan nightly: param from its default" "YOBAN_PARAM_BUSINESS_DATE={{scheduled_date}}" "$p"
contains "plan nightly: revision" "revision   $(sha256sum runbooks/nightly-resident-batch.yaml | cut -c1-64)" "$p"
contains "plan nightly: executes nothing" "nothing was executed" "$p"

p=$("$yoban" plan runbooks/patch-inc-2026-118.yaml); rc=$?
check "plan patch: exit 0" 0 "$rc"
contains "plan patch: approvers" "approval: 2 distinct approvers (not the requester), at least 1d before the run" "$p"
contains "plan patch: procedure pinned" "sha256 $(sha256sum runbooks/procedures/INC-2026-118.md | cut -c1-64)" "$p"
contains "plan patch: staging required" "staging: required" "$p"
contains "plan patch: guard" "guard:   exactly 12 rows, else roll back and fail" "$p"
contains "plan patch: host" "resident-db-01   ssh     yoban@192.0.2.30:22" "$p"

p=$("$yoban" plan runbooks/fileserver-backup.yaml --from $from --count 2); rc=$?
check "plan backup: exit 0" 0 "$rc"
contains "plan backup: every day, no calendar" "    2026-12-25T23:00:00+09:00  Fri
    2026-12-26T23:00:00+09:00  Sat" "$p"
contains "plan backup: generations" "/srv/share -> /backup/share, keep 3 generations, zstd level 3, verified before rotating" "$p"

p=$("$yoban" plan runbooks/fileserver-backup.yaml --from 2026-08-22T12:00:00+09:00 --count 2)
contains "plan backup: held by the maintenance window" \
  "2026-08-22T23:00:00+09:00  Sat  maintenance 'legal-power-inspection': held until 2026-08-23T09:00:00+09:00" "$p"

p=$("$yoban" plan runbooks/fileserver-offsite.yaml --from $from); rc=$?
check "plan offsite: exit 0" 0 "$rc"
contains "plan offsite: new year moved to the first open day" \
  "2027-01-04T02:00:00+09:00  Mon  moved here from closed days: 2027-01-01 元日" "$p"
contains "plan offsite: golden week" "2027-05-06T02:00:00+09:00  Thu  moved here from closed days: 2027-05-01 土曜日" "$p"
contains "plan offsite: vault" "-> vault-dr-01:/vault/share, encrypted with /etc/yoban/keys/offsite.key, keep 12" "$p"

p=$("$yoban" plan runbooks/rehearse-nightly.yaml --from $from); rc=$?
check "plan rehearsal: exit 0" 0 "$rc"
contains "plan rehearsal: rehearses" "rehearses  nightly-resident-batch" "$p"
contains "plan rehearsal: on staging" "batch-stg-01     ssh     yoban@192.0.2.20:22" "$p"
lacks "plan rehearsal: never production" "batch-01 " "$p"
contains "plan rehearsal: first fire tonight" "2026-12-25T19:00:00+09:00  Fri" "$p"

p=$("$yoban" plan runbooks/hello-local.yaml); rc=$?
check "plan local: exit 0" 0 "$rc"
contains "plan local: local transport" "local            local" "$p"
contains "plan local: no schedule" "no schedule: runs only when triggered" "$p"

j=$("$yoban" plan runbooks/nightly-resident-batch.yaml --format json --from $from); rc=$?
check "plan json: exit 0" 0 "$rc"
contains "plan json: first fire" '"at": "2026-12-28T01:30:00+09:00"' "$j"
contains "plan json: host address" '"address": "192.0.2.10"' "$j"
contains "plan json: executed false" '"executed": false' "$j"
check_status "plan json parses" 0 python3 -c 'import json,sys; json.load(sys.stdin)' <<<"$j"

finish
