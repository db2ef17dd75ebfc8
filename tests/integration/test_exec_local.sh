#!/usr/bin/env bash
# yoban exec over the local transport: output streams, exit statuses (plain, signal, timeout),
# parameters as data, secrets masked, detach/attach/forget, Ctrl-C as cancel, and the errors an
# operator meets (unknown host with a suggestion, usage).
set -uo pipefail
YB_BIN=${YB_BIN:?YB_BIN must point at the build bin folder}
yoban=$YB_BIN/yoban
. "${YB_SOURCE_DIR:?}/tests/integration/lib/assert.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
cat > "$tmp/yoban.yaml" <<EOF2
state_dir: $tmp/state
inventory: $tmp/inventory.yaml
EOF2
cat > "$tmp/inventory.yaml" <<'EOF2'
hosts:
  batch-local: { transport: local, environment: staging }
EOF2
x() { "$yoban" exec --config "$tmp/yoban.yaml" "$@"; }

out=$(x --host batch-local -- echo hello world 2>"$tmp/err"); rc=$?
check "stdout streamed" "hello world" "$out"
check "exit 0" 0 "$rc"

out=$(x --host batch-local -- sh -c 'echo to-out; echo to-err >&2; exit 7' 2>"$tmp/err"); rc=$?
check "stdout kept apart" "to-out" "$out"
check "stderr kept apart" "to-err" "$(cat "$tmp/err")"
check "exit status passed through" 7 "$rc"

x --host batch-local -- sh -c 'kill -KILL $$' >/dev/null 2>&1; rc=$?
check "killed by a signal: 128+9" 137 "$rc"

x --host batch-local --timeout 1s -- sh -c 'echo $$ > '"$tmp"'/pid; sleep 300 & echo $! > '"$tmp"'/child; wait' \
  >/dev/null 2>"$tmp/err"; rc=$?
check "timeout: exit 124" 124 "$rc"
contains "timeout: its own message" "timed out" "$(cat "$tmp/err")"
child=$(cat "$tmp/child")
for _ in $(seq 1 50); do kill -0 "$child" 2>/dev/null || break; sleep 0.1; done
gone() { ! kill -0 "$1" 2>/dev/null || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
check_status "timeout: the whole process tree is gone (child $child)" 0 gone "$child"

hostile='a b; touch '"$tmp"'/pwned; $(id) `id` "q"'
out=$(DB_PASSWORD=s3cr3t-pw x --host batch-local --env "YOBAN_PARAM_X=$hostile" --secret-env DB_PASSWORD \
      -- sh -c 'printf "%s\n" "$YOBAN_PARAM_X"; echo "pw=$DB_PASSWORD"' 2>/dev/null)
check "parameters arrive as data" "$hostile" "$(head -1 <<<"$out")"
check_status "no parameter was executed" 1 test -e "$tmp/pwned"
check "secrets masked" "pw=********" "$(tail -1 <<<"$out")"

x --host batch-lcoal -- true >/dev/null 2>"$tmp/err"; rc=$?
check "unknown host: exit 1" 1 "$rc"
contains "unknown host: did you mean" "did you mean 'batch-local'" "$(cat "$tmp/err")"

x -- true >/dev/null 2>&1; check "no --host: usage" 2 "$?"
x --host batch-local >/dev/null 2>&1; check "no command: usage" 2 "$?"
x --host batch-local --env 'not a name=1' -- true >/dev/null 2>&1; check "bad --env: usage" 2 "$?"
x --host batch-local --timeout soon -- true >/dev/null 2>&1; check "bad --timeout: usage" 2 "$?"

job=$(x --host batch-local --detach -- sh -c 'echo first; sleep 1; echo second; exit 3' 2>"$tmp/err"); rc=$?
check "detach: exit 0" 0 "$rc"
matches "detach prints the job id" 'exec-*' "$job"
out=$(x --host batch-local --attach "$job" --keep 2>/dev/null); rc=$?
check "attach: the whole output" $'first\nsecond' "$out"
check "attach: the job's status" 3 "$rc"
out=$(x --host batch-local --attach "$job" 2>/dev/null); rc=$?
check "attach again (kept): the whole output again" $'first\nsecond' "$out"
x --host batch-local --attach "$job" >/dev/null 2>"$tmp/err"; rc=$?
check "attach after forget: exit 1" 1 "$rc"
contains "attach after forget: named" "no job '$job'" "$(cat "$tmp/err")"

x --host batch-local --job-id "dup-$$" --keep -- echo first >/dev/null 2>&1
x --host batch-local --job-id "dup-$$" -- echo second >"$tmp/out" 2>"$tmp/err"; rc=$?
check "a job id in use: refused" 1 "$rc"
contains "a job id in use: named" "is taken here by another job" "$(cat "$tmp/err")"
check "a job id in use: nothing of the old job shown" "" "$(cat "$tmp/out")"

"$yoban" exec --config "$tmp/yoban.yaml" --host batch-local --job-id "ctrlc-$$" \
  -- sh -c 'echo ready; exec sleep 300' >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 1 100); do grep -q ready "$tmp/out" 2>/dev/null && break; sleep 0.1; done
kill -INT "$pid"
wait "$pid"; rc=$?
check "Ctrl-C cancels: 128+SIGTERM" 143 "$rc"
contains "Ctrl-C: said so" "cancel" "$(cat "$tmp/err")"

finish
