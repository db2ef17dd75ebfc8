#!/usr/bin/env bash
# yoban exec over the local transport: output streams, exit statuses (plain, signal, timeout),
# parameters as data, secrets masked, detach/attach/forget, Ctrl-C as cancel, and the errors an
# operator meets (unknown host with a suggestion, usage).
set -uo pipefail
YB_BIN=${YB_BIN:?YB_BIN must point at the build bin folder}
yoban=$YB_BIN/yoban
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
pass=0 fail=0
ok()   { pass=$((pass+1)); echo "ok - $1"; }
bad()  { fail=$((fail+1)); echo "FAILED - $1"; }
check() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: expected [$3], got [$2]"; fi; }
contains() { if grep -qF -- "$3" <<<"$2"; then ok "$1"; else bad "$1: [$3] not in [$2]"; fi; }
x() { "$yoban" exec --config "$tmp/yoban.yaml" "$@"; }

out=$(x --host batch-local -- echo hello world 2>"$tmp/err"); rc=$?
check "stdout streamed" "$out" "hello world"
check "exit 0" "$rc" 0

out=$(x --host batch-local -- sh -c 'echo to-out; echo to-err >&2; exit 7' 2>"$tmp/err"); rc=$?
check "stdout kept apart" "$out" "to-out"
check "stderr kept apart" "$(cat "$tmp/err")" "to-err"
check "exit status passed through" "$rc" 7

x --host batch-local -- sh -c 'kill -KILL $$' >/dev/null 2>&1; rc=$?
check "killed by a signal: 128+9" "$rc" 137

x --host batch-local --timeout 1s -- sh -c 'echo $$ > '"$tmp"'/pid; sleep 300 & echo $! > '"$tmp"'/child; wait' \
  >/dev/null 2>"$tmp/err"; rc=$?
check "timeout: exit 124" "$rc" 124
contains "timeout: its own message" "$(cat "$tmp/err")" "timed out"
child=$(cat "$tmp/child")
for _ in $(seq 1 50); do kill -0 "$child" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$child" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$child/status" 2>/dev/null; then
  bad "timeout: the job's background child $child survived"
else ok "timeout: the whole process tree is gone"; fi

hostile='a b; touch '"$tmp"'/pwned; $(id) `id` "q"'
out=$(DB_PASSWORD=s3cr3t-pw x --host batch-local --env "YOBAN_PARAM_X=$hostile" --secret-env DB_PASSWORD \
      -- sh -c 'printf "%s\n" "$YOBAN_PARAM_X"; echo "pw=$DB_PASSWORD"' 2>/dev/null)
check "parameters arrive as data" "$(head -1 <<<"$out")" "$hostile"
[ ! -e "$tmp/pwned" ] && ok "no parameter was executed" || bad "a parameter was executed"
check "secrets masked" "$(tail -1 <<<"$out")" "pw=********"

x --host batch-lcoal -- true >/dev/null 2>"$tmp/err"; rc=$?
check "unknown host: exit 1" "$rc" 1
contains "unknown host: did you mean" "$(cat "$tmp/err")" "did you mean 'batch-local'"

x -- true >/dev/null 2>&1; check "no --host: usage" "$?" 2
x --host batch-local >/dev/null 2>&1; check "no command: usage" "$?" 2
x --host batch-local --env 'not a name=1' -- true >/dev/null 2>&1; check "bad --env: usage" "$?" 2
x --host batch-local --timeout soon -- true >/dev/null 2>&1; check "bad --timeout: usage" "$?" 2

job=$(x --host batch-local --detach -- sh -c 'echo first; sleep 1; echo second; exit 3' 2>"$tmp/err"); rc=$?
check "detach: exit 0" "$rc" 0
case "$job" in exec-*) ok "detach prints the job id";; *) bad "detach printed [$job]";; esac
out=$(x --host batch-local --attach "$job" --keep 2>/dev/null); rc=$?
check "attach: the whole output" "$out" $'first\nsecond'
check "attach: the job's status" "$rc" 3
out=$(x --host batch-local --attach "$job" 2>/dev/null); rc=$?
check "attach again (kept): the whole output again" "$out" $'first\nsecond'
x --host batch-local --attach "$job" >/dev/null 2>"$tmp/err"; rc=$?
check "attach after forget: exit 1" "$rc" 1
contains "attach after forget: named" "$(cat "$tmp/err")" "no job '$job'"

x --host batch-local --job-id "dup-$$" --keep -- echo first >/dev/null 2>&1
x --host batch-local --job-id "dup-$$" -- echo second >"$tmp/out" 2>"$tmp/err"; rc=$?
check "a job id in use: refused" "$rc" 1
contains "a job id in use: named" "$(cat "$tmp/err")" "exists"
check "a job id in use: nothing of the old job shown" "$(cat "$tmp/out")" ""

"$yoban" exec --config "$tmp/yoban.yaml" --host batch-local --job-id "ctrlc-$$" \
  -- sh -c 'echo ready; exec sleep 300' >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 1 100); do grep -q ready "$tmp/out" 2>/dev/null && break; sleep 0.1; done
kill -INT "$pid"
wait "$pid"; rc=$?
check "Ctrl-C cancels: 128+SIGTERM" "$rc" 143
contains "Ctrl-C: said so" "$(cat "$tmp/err")" "cancel"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
