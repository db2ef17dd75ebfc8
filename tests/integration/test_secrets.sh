#!/usr/bin/env bash
# `yoban exec --secret-env` never takes a secret from its own command line, where every local user
# reads it with ps: the value comes from yoban's environment (NAME), a file (NAME=@FILE) or
# standard input (NAME=-). Each form reaches the job as the variable and is masked in its output;
# the old inline form NAME=VALUE is refused with the forms to use instead. (The runbook side, the
# site's secrets folder, is tests/integration/test_loader_files.sh.)
set -uo pipefail
yoban=${YB_BIN:?}/yoban
. "${YB_SOURCE_DIR:?}/tests/integration/lib/assert.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/yoban.yaml" <<EOF2
state_dir: $tmp/state
inventory: $tmp/inventory.yaml
EOF2
cat >"$tmp/inventory.yaml" <<'EOF2'
hosts:
  batch-local: { transport: local, environment: staging }
EOF2
x() { timeout 30 "$yoban" exec --config "$tmp/yoban.yaml" --host batch-local "$@"; }
show='echo "pw=$DB_PASSWORD len=${#DB_PASSWORD}"'

# from the environment
out=$(DB_PASSWORD='env-s3cret' x --secret-env DB_PASSWORD -- sh -c "$show" 2>&1); rc=$?
check "NAME: exit 0" 0 "$rc"
check "NAME: the job has the value, masked in its output" "pw=******** len=10" "$out"
# from a file (a final newline is not part of the value)
printf 'file-s3cret\n' >"$tmp/pw"; chmod 600 "$tmp/pw"
out=$(x --secret-env DB_PASSWORD=@"$tmp/pw" -- sh -c "$show" 2>&1); rc=$?
check "NAME=@FILE: exit 0" 0 "$rc"
check "NAME=@FILE: the file's content, masked" "pw=******** len=11" "$out"
# from a pipe, as with <(command)
out=$(x --secret-env DB_PASSWORD=@<(printf 'pipe-s3cret') -- sh -c "$show" 2>&1); rc=$?
check "NAME=@<(...): exit 0" 0 "$rc"
check "NAME=@<(...): the command's output, masked" "pw=******** len=11" "$out"
# from standard input
out=$(printf 'stdin-s3cret\n' | x --secret-env DB_PASSWORD=- -- sh -c "$show" 2>&1); rc=$?
check "NAME=-: exit 0" 0 "$rc"
check "NAME=-: standard input, masked" "pw=******** len=12" "$out"

# while a job runs, ps shows no secret
printf 'ps-s3cret-value\n' >"$tmp/pw2"
x --secret-env DB_PASSWORD=@"$tmp/pw2" -- sh -c 'sleep 2' >/dev/null 2>&1 &
job=$!
sleep 1
lacks "ps shows no secret while the job runs" 'ps-s3cret-value' "$(ps -eo args | grep -v grep)"
contains "ps shows where it came from instead" "DB_PASSWORD=@$tmp/pw2" "$(ps -eo args | grep -v grep | grep 'secret-env')"
wait "$job"

# refused, each with the way out
out=$(x --secret-env DB_PASSWORD=inline-s3cret -- true 2>&1); rc=$?
check "NAME=VALUE: refused as usage (exit 2)" 2 "$rc"
contains "  says why and what to write" "--secret-env DB_PASSWORD=VALUE would show the value to every local user (ps): write --secret-env DB_PASSWORD (the value of \$DB_PASSWORD in yoban's environment), DB_PASSWORD=@FILE or DB_PASSWORD=- (standard input)" "$out"
lacks "  the refusal does not echo the value" 'inline-s3cret' "$out"
out=$(env -u NOT_SET_HERE "$yoban" exec --config "$tmp/yoban.yaml" --host batch-local --secret-env NOT_SET_HERE -- true 2>&1); rc=$?
check "NAME not in the environment: exit 2" 2 "$rc"
contains "  says so" "--secret-env NOT_SET_HERE takes the value of \$NOT_SET_HERE from yoban's environment, and it is not set" "$out"
out=$(x --secret-env DB_PASSWORD=@"$tmp/missing" -- true 2>&1); rc=$?
check "NAME=@FILE, no such file: exit 2" 2 "$rc"
contains "  names the file" "cannot open '$tmp/missing'" "$out"
out=$(echo a | x --secret-env A=- --secret-env B=- -- true 2>&1); rc=$?
check "standard input twice: exit 2" 2 "$rc"
contains "  says one only" "standard input holds one value only" "$out"
out=$(x --secret-env 1BAD=@"$tmp/pw" -- true 2>&1); rc=$?
check "a bad variable name: exit 2" 2 "$rc"
contains "--help shows the forms" "--secret-env K=@FILE" "$("$yoban" exec --help)"

finish
