# shellcheck shell=bash
# daemon.sh: helpers for the integration tests that run yoband. Source lib/assert.sh first, and
# lib/pg.sh before this file when the test needs yd_setup or yd_sql. Then:
#
#   yd_setup                 a PostgreSQL (pg_start), the yoban schema migrated in database
#                            "yoban", logins yoband (yoban_daemon) and alice (yoban_operator), and a
#                            site under $YD_SITE (yoban.yaml, inventory with a local host,
#                            runbooks/); exports YOBAN_CONFIG and YOBAN_RUNNER
#   yd_runbook NAME BODY     writes $YD_SITE/runbooks/NAME.yaml (BODY is the YAML after the name)
#   yd_start [LOG [ARG...]]  starts a yoband (--foreground ARG...) in the background, its output
#                            appended to LOG (default $PG_BASE/yoband.log; "" for the default);
#                            sets YD_PID. Variables given before the call reach the daemon:
#                            `PGUSER=ydtest yd_start "$work/yoband.log" --config "$work/yoban.yaml"`.
#                            A standby is just another yd_start (with its own LOG)
#   yd_stop PID              SIGTERM, then SIGKILL after $YD_STOP_SECONDS (default 10) s; reaps
#                            it. Returns 0 when it ended on SIGTERM, 1 when it had to be killed
#   yd_kill PID              SIGKILL (a crash), and reaps it
#   yd_stop_all              yd_stop for every yoband this test started and has not stopped
#   yd_running PID           true while PID runs (unlike kill -0, false for an ended, unreaped one)
#   yd_sql SQL               psql in database yoban as $PGUSER, unaligned, tuples only
#   yd_wait_sql SQL VALUE [SECONDS]   waits until SQL prints VALUE (default 30 s)
#   yd_sanitizer_clean       true when no yoband log of this test holds a sanitizer report
#                            (AddressSanitizer, LeakSanitizer, UndefinedBehaviorSanitizer);
#                            prints the first lines of the reports otherwise
#
# finish (lib/assert.sh) stops every yoband this test started, checks all their logs for a
# sanitizer report (an assertion of its own: the test fails on any), and when anything failed
# prints the tail of each log. Without yd_setup, stop the daemons on exit yourself (yd_stop_all in
# your cleanup; yd_setup arranges it through PG_ON_EXIT). Start yoband only through yd_start.

YD_PIDS=()   # the yobands this test started and has not reaped yet
YD_LOGS=()   # every log a yoband of this test wrote to
YD_BIN=${YB_BIN:?YB_BIN must name the build\'s bin folder}

# True while PID runs (a zombie, ended but not reaped, does not count).
yd_running() {
  local st
  st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "${st#Z}" = "$st" ]
}

# Reaps PID and takes it off YD_PIDS (its number may be reused once reaped: never signal it again).
yd__reap() {
  local p keep=()
  wait "$1" 2>/dev/null
  for p in "${YD_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  YD_PIDS=("${keep[@]}")
}

yd__mine() {
  local p
  for p in "${YD_PIDS[@]}"; do [ "$p" = "$1" ] && return 0; done
  echo "daemon.sh: $1 is not a yoband this test started (or it was stopped already)" >&2
  return 1
}

yd_start() {
  local log=${1:-${PG_BASE:?yd_start needs a LOG when there is no PG_BASE}/yoband.log} l seen=
  [ $# -gt 0 ] && shift
  "$YD_BIN/yoband" --foreground "$@" >>"$log" 2>&1 &
  YD_PID=$!
  YD_PIDS+=("$YD_PID")
  for l in "${YD_LOGS[@]}"; do [ "$l" = "$log" ] && seen=1; done
  [ -n "$seen" ] || YD_LOGS+=("$log")
}

yd_kill() {
  yd__mine "$1" || return 1
  kill -KILL "$1" 2>/dev/null
  yd__reap "$1"
  return 0
}

# SIGTERM to each PID at once, then each gets YD_STOP_SECONDS to end before SIGKILL.
yd__stop() {
  local p rc=0 ticks=$(( ${YD_STOP_SECONDS:-10} * 10 ))
  for p in "$@"; do kill -TERM "$p" 2>/dev/null; done
  for p in "$@"; do
    while [ "$ticks" -gt 0 ] && yd_running "$p"; do sleep 0.1; ticks=$((ticks - 1)); done
    if yd_running "$p"; then
      echo "# yoband $p did not end within ${YD_STOP_SECONDS:-10} s of SIGTERM: killed" >&2
      kill -KILL "$p" 2>/dev/null
      rc=1
    fi
    yd__reap "$p"
  done
  return "$rc"
}

yd_stop() {
  yd__mine "$1" || return 1
  yd__stop "$1"
}

yd_stop_all() {
  [ ${#YD_PIDS[@]} -eq 0 ] || yd__stop "${YD_PIDS[@]}"
  # The runners started by these daemons end with them (end of file on their socket); jobs
  # still running end by themselves: every test job is short.
  return 0
}

yd_sanitizer_clean() {
  local found
  [ ${#YD_LOGS[@]} -gt 0 ] || return 0
  found=$(grep -H -m 5 -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)' \
    "${YD_LOGS[@]}" 2>/dev/null)
  [ -z "$found" ] && return 0
  printf '%s\n' "$found"
  return 1
}

# The final check finish runs: every daemon stopped, every log clean; the logs' tails on failure.
yd__final() {
  local l
  yd_stop_all
  [ ${#YD_LOGS[@]} -gt 0 ] || return 0
  check_status "no sanitizer report in the yoband logs (${#YD_LOGS[@]})" 0 yd_sanitizer_clean
  [ "$ASSERT_FAILED" -eq 0 ] && return 0
  for l in "${YD_LOGS[@]}"; do
    [ -f "$l" ] || continue
    echo "# --- the last 40 lines of $l"
    tail -40 "$l" | sed 's/^/#   /'
  done
}
ASSERT_FINAL+=(yd__final)

yd_sql() {
  "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 --no-psqlrc -At -d yoban -c "$1"
}

yd_wait_sql() {
  local sql=$1 want=$2 secs=${3:-30} got=
  for _ in $(seq $((secs * 10))); do
    got=$(yd_sql "$sql" 2>/dev/null) || true
    [ "$got" = "$want" ] && return 0
    sleep 0.1
  done
  echo "timed out waiting for [$sql] = [$want], last [$got]" >&2
  return 1
}

yd_setup() {
  pg_start || return 1
  # shellcheck disable=SC2034 # read by lib/pg.sh on exit
  PG_ON_EXIT=yd_stop_all
  pg_psql -c "CREATE DATABASE yoban" || return 1
  "$YD_BIN/yoban" db migrate --database "host=$PGHOST dbname=yoban user=postgres" >/dev/null || return 1
  PGDATABASE=yoban pg_psql -c "SELECT yoban.yoban_grant_login('yoband', ARRAY['yoban_daemon'])" >/dev/null || return 1
  PGDATABASE=yoban pg_psql -c "SELECT yoban.yoban_grant_login('alice', ARRAY['yoban_operator'])" >/dev/null || return 1
  YD_SITE=$PG_BASE/site
  mkdir -p "$YD_SITE/runbooks" "$YD_SITE/state"
  cat >"$YD_SITE/yoban.yaml" <<YAML
database: "host=$PGHOST dbname=yoban user=yoband"
state_dir: $YD_SITE/state
runbooks: runbooks
inventory: inventory.yaml
timezone: Asia/Tokyo
YAML
  cat >"$YD_SITE/inventory.yaml" <<YAML
hosts:
  local: { transport: local, environment: production }
  local-stg: { transport: local, environment: staging, state_dir: $YD_SITE/state/runner-stg }
YAML
  export YOBAN_CONFIG=$YD_SITE/yoban.yaml
  export YOBAN_RUNNER=$YD_BIN/yoban-runner
}

yd_runbook() {
  local name=$1 body=$2
  printf "version: 1\nname: %s\nkind: batch\n%s\n" "$name" "$body" >"$YD_SITE/runbooks/$name.yaml.tmp"
  mv "$YD_SITE/runbooks/$name.yaml.tmp" "$YD_SITE/runbooks/$name.yaml"
}
