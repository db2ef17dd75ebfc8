#!/usr/bin/env bash
# Bytes are not always UTF-8 (issue: Shift_JIS file names and output are normal in this domain).
# Arguments, environment values, secrets and parameters travel byte for byte from the command
# line to the step, and output comes back the same way; where JSON must carry them it does so
# losslessly ({"base64": ...}). Before, each of these aborted the CLI at a JSON encoding BUG.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/assert.sh"
. "$here/lib/pg.sh"
. "$here/lib/daemon.sh"

yd_setup || bail "yd_setup"
hexof() { od -An -v -tx1 | tr -d ' \n'; }
sjis=$'\x8f\x5a\x96\xaf'   # "住民" in Shift_JIS
ff=$'\xff\xfe'

# ---- yoban exec: argument, environment, secret ----
out=$("$YB_BIN/yoban" exec --host local -- printf '%s' "$sjis" 2>"$PG_BASE/exec.err" | hexof)
check "exec: a Shift_JIS argument reaches the step byte for byte" 8f5a96af "$out"
lacks "exec: no BUG, no abort" "BUG" "$(cat "$PG_BASE/exec.err")"
out=$("$YB_BIN/yoban" exec --host local --env "A=$ff" -- sh -c 'printf %s "$A"' 2>/dev/null | hexof)
check "exec: a non-UTF-8 environment value reaches the step" fffe "$out"
out=$(S="$ff-pw" "$YB_BIN/yoban" exec --host local --secret-env S -- sh -c 'printf "%s|" "$S"; printf %s "$S" | od -An -tx1 | tr -d " \n"' 2>/dev/null)
check "exec: a non-UTF-8 secret reaches the step and is masked in its output" "********|fffe2d7077" "$out"

# ---- yoban trigger --param through yoband, yoban logs back ----
yd_runbook bytes 'targets: { hosts: [local] }
params:
  name: { description: a file name as the city system spells it }
steps:
  - name: echo
    run: printf %s "$YOBAN_PARAM_NAME"'
mkdir -p "$PG_BASE/cli"
printf 'database: "host=%s dbname=yoban"\n' "$PGHOST" >"$PG_BASE/cli/yoban.yaml"
cli() { PGUSER=alice "$YB_BIN/yoban" "$@" --config "$PG_BASE/cli/yoban.yaml"; }
yd_start
for _ in $(seq 100); do cli status >/dev/null 2>&1 && break; sleep 0.1; done

out=$(cli trigger bytes --param "name=$sjis" --wait --timeout 30s 2>&1)
check "trigger: a Shift_JIS parameter is taken" 0 "$?"
run=$(sed -n 's/^run \([0-9]*\).*/\1/p' <<<"$out")
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = ${run:-0}" succeeded 30
check "the run succeeded" 0 "$?"
check "the stored parameter keeps the bytes (base64)" j1qWrw== \
  "$(yd_sql "SELECT params->'name'->>'base64' FROM yoban.runs WHERE id = ${run:-0}")"
check "logs: the step's output is the parameter's bytes" 8f5a96af "$(cli logs "${run:-0}" 2>/dev/null | hexof)"
json=$(cli logs "${run:-0}" --format json 2>/dev/null)
check "logs --format json: exact bytes in base64" j1qWrw== \
  "$(/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["base64"])' <<<"$json")"
check "logs --format json: text shows U+FFFD for the bad bytes" 3 \
  "$(/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["text"].count("\ufffd"))' <<<"$json")"
check "show --format json still parses" 0 "$(cli show "${run:-0}" --format json | /usr/bin/python3 -c 'import json,sys; json.load(sys.stdin)' >/dev/null 2>&1; echo $?)"

finish
