# daemon.sh: helpers for the yoband integration tests (tests/integration/test_daemon_*.sh).
# Source after lib/pg.sh. Then:
#
#   yd_setup                 a PostgreSQL (pg_start), the yoban schema migrated in database
#                            "yoban", logins yoband (yoban_daemon) and alice (yoban_operator), and a
#                            site under $YD_SITE (yoban.yaml, inventory with a local host,
#                            runbooks/); exports YOBAN_CONFIG and YOBAN_RUNNER
#   yd_runbook NAME BODY     writes $YD_SITE/runbooks/NAME.yaml (BODY is the YAML after the name)
#   yd_start [LOG]           starts a yoband in the background; sets YD_PID (and appends to LOG)
#   yd_sql SQL               psql in database yoban as postgres, unaligned, tuples only
#   yd_wait_sql SQL VALUE [SECONDS]   waits until SQL prints VALUE (default 30 s)
#   yd_stop_all              SIGTERM to every yoband this test started, then SIGKILL
#
# Every yoband started here is killed on exit (PG_ON_EXIT).

YD_PIDS=()
YD_BIN=${YB_BIN:?YB_BIN must name the build\'s bin folder}

yd_stop_all() {
  local p
  for p in "${YD_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${YD_PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  YD_PIDS=()
  # The runners started by these daemons end with them (end of file on their socket); jobs
  # still running end by themselves: every test job is short.
  return 0
}

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

yd_start() {
  local log=${1:-$PG_BASE/yoband.log}
  "$YD_BIN/yoband" --foreground >>"$log" 2>&1 &
  YD_PID=$!
  YD_PIDS+=("$YD_PID")
}

# True when no daemon log under $PG_BASE holds a sanitizer report (ASan, LSan, UBSan).
yd_sanitizer_clean() {
  ! grep -l 'ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:' "$PG_BASE"/*.log 2>/dev/null
}
