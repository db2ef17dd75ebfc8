#!/usr/bin/env bash
# End to end with a real yoband and a local runner: an operator triggers, the run appears, logs
# shows (and follows) its output, a long run is cancelled, a run is rerun from a step, and status
# names the leader. PostgreSQL is real (lib/pg.sh); the daemon logs in as a yoban_daemon role.
set -uo pipefail
yoban="${YB_BIN:?}/yoban"
. "${YB_SOURCE_DIR:?}/tests/integration/lib/assert.sh"
# shellcheck source=lib/pg.sh
. "$YB_SOURCE_DIR/tests/integration/lib/pg.sh"
. "$YB_SOURCE_DIR/tests/integration/lib/daemon.sh"
jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
[ -x "$YB_BIN/yoband" ] || bail "yoband is built ($YB_BIN/yoband)"

pg_start || bail "PostgreSQL starts"
work=$(mktemp -d)
# shellcheck disable=SC2034 # read by lib/pg.sh on exit
PG_ON_EXIT=cleanup
cleanup() { yd_stop_all; rm -rf "$work"; }
chmod 0755 "$work"
pg_psql -c 'CREATE DATABASE yoban' || bail "CREATE DATABASE yoban"
mkdir -p "$work/runbooks" "$work/state"
cat >"$work/yoban.yaml" <<YAML
database: "host=$PGHOST port=$PGPORT dbname=yoban"
state_dir: $work/state
runbooks: runbooks
inventory: inventory.yaml
timezone: Asia/Tokyo
YAML
cat >"$work/inventory.yaml" <<YAML
hosts:
  local: { transport: local, environment: production, runner: $YB_BIN/yoban-runner }
YAML
cat >"$work/runbooks/hello.yaml" <<'YAML'
version: 1
name: hello
kind: batch
targets: { hosts: [local] }
timeout: 1m
params:
  greeting: hi
steps:
  - name: greet
    run: echo "$YOBAN_PARAM_GREETING from run $YOBAN_RUN_ID"; echo "to stderr" >&2
  - name: count
    run: seq 1 3
YAML
cat >"$work/runbooks/slow.yaml" <<'YAML'
version: 1
name: slow
kind: batch
targets: { hosts: [local] }
timeout: 5m
steps:
  - name: tick
    run: for i in 1 2 3 4 5 6 7 8 9 10; do echo "tick $i"; sleep 1; done
YAML
export YOBAN_CONFIG=$work/yoban.yaml
PGUSER=postgres "$yoban" db migrate >/dev/null || bail "yoban db migrate"
pg_create_login alice yoban_operator
pg_create_login rita yoban_reviewer
pg_create_login ydtest yoban_daemon
PGUSER=ydtest yd_start "$work/yoband.log" --config "$work/yoban.yaml"
ydpid=$YD_PID
as() { local who=$1; shift; PGUSER=$who "$@"; }

# status: wait (bounded) for the leader's first heartbeat
for _ in $(seq 1 100); do as rita "$yoban" status >/dev/null 2>&1 && break; sleep 0.1; done
out=$(as rita "$yoban" status 2>&1)
check "status: a leader" 0 $?
contains "status names the leader's pid" "pid $ydpid" "$out"

# trigger --wait: the run exists when it returns
out=$(as alice "$yoban" trigger hello --param greeting=konbanwa --wait --timeout 30s)
check "trigger --wait exits 0" 0 $?
run=$(sed -n 's/^run //p' <<<"$out")
[ -n "$run" ] || run=0
check "the run records alice and the request" "alice|manual|konbanwa" \
  "$(PGDATABASE=yoban pg_psql -c "SELECT requested_by, trigger, params->>'greeting' FROM yoban.runs WHERE id = $run")"
# logs --follow ends when the run ends, with all of its output
as rita "$yoban" logs "$run" --follow --quiet >"$work/out" 2>"$work/err"
check "logs --follow exits 0" 0 $?
check "logs stdout: both steps, in order" "konbanwa from run $run
1
2
3" "$(cat "$work/out")"
check "logs stderr" "to stderr" "$(cat "$work/err")"
check "run succeeded" "succeeded" "$(as rita "$yoban" show "$run" --format json | jq_py 'd["state"]')"
check "show: two jobs with digests" "2 True" \
  "$(as rita "$yoban" show "$run" --format json | jq_py 'len(d["jobs"]), all(j["stdout_sha256"] for j in d["jobs"])' | tr '\n' ' ' | sed 's/ $//')"

# a reviewer is refused and nothing runs
out=$(as rita "$yoban" trigger hello 2>&1)
check "reviewer trigger refused" 1 $?

# cancel a long run while it ticks; follow sees the ticks so far and then ends
out=$(as alice "$yoban" trigger slow --wait --timeout 30s)
slow=$(sed -n 's/^run //p' <<<"$out")
[ -n "$slow" ] || slow=0
for _ in $(seq 1 100); do
  as rita "$yoban" logs "$slow" -q 2>/dev/null | grep -q 'tick 2' && break; sleep 0.1
done
as rita "$yoban" logs "$slow" --follow --quiet >"$work/slow.out" 2>&1 &
follower=$!
as alice "$yoban" cancel "$slow" --wait --timeout 30s >/dev/null
check "cancel --wait exits 0" 0 $?
wait "$follower"
check "logs --follow of a cancelled run ends, exit 0" 0 $?
contains "follow printed the ticks" "tick 2" "$(cat "$work/slow.out")"
for _ in $(seq 1 300); do
  st=$(as rita "$yoban" show "$slow" --format json | jq_py 'd["state"]')
  case "$st" in cancelled|failed|succeeded) break ;; esac; sleep 0.1
done
check "slow run cancelled" "cancelled" "$st"
check "not all ten ticks ran" "" "$(grep 'tick 10' "$work/slow.out")"

# rerun from the second step: a new run that ran only 'count'
out=$(as alice "$yoban" rerun "$run" --from-step count --wait --timeout 30s --format json)
check "rerun --wait exits 0" 0 $?
rerun=$(jq_py 'd["run_id"]' <<<"$out")
as rita "$yoban" logs "$rerun" --follow --quiet >"$work/rerun.out" 2>&1
check "rerun ran only the second step" "1
2
3" "$(cat "$work/rerun.out")"
check "rerun recorded" "rerun $run" "$(as rita "$yoban" show "$rerun" --format json | jq_py 'd["trigger"], d["rerun_of"]' | tr '\n' ' ' | sed 's/ $//')"

# yoband's refusals come back as exit 1 with its reason
out=$(as alice "$yoban" trigger no-such-book --wait --timeout 30s 2>&1)
check "trigger of an unknown runbook: exit 1" 1 $?
contains "the daemon's reason is shown" "yoband refused request" "$out"
contains "... and names the problem" "no runbook of that name" "$out"
out=$(as alice "$yoban" cancel "$run" --wait --timeout 30s 2>&1)
check "cancel of a finished run: exit 1" 1 $?
contains "cancel refusal says why" "not in flight" "$out"

# runs lists all three, newest first
check "runs lists the three runs" "$rerun $slow $run" \
  "$(as rita "$yoban" runs --format json | jq_py '" ".join(str(r["id"]) for r in d)')"

# a clean stop: the leader row says so and status says NO LEADER at once
yd_stop "$ydpid"
out=$(as rita "$yoban" status 2>&1)
check "status after yoband stopped: exit 1" 1 $?
contains "status after yoband stopped: NO LEADER" "NO LEADER" "$out"

finish
