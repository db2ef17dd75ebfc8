#!/usr/bin/env bash
# yoban init from scratch in a temp folder: a private cluster (as root: run by the system user
# 'yoban'), the database migrated, the caller an admin and operator, yoban.yaml written; then
# yoban db status / stop / start on it, re-running init (refused without --force, data kept with
# it), the error paths, and no postgres left behind.
set -uo pipefail
src=${YB_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${YB_BIN:-$src/build/bin}
yoban=$bin/yoban
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
. "$src/tests/integration/lib/assert.sh"

base=$(mktemp -d "${TMPDIR:-/tmp}/yoban-init.XXXXXX")
chmod 0755 "$base" # the server's OS user must pass through
state=$base/state
conf=$state/yoban.yaml
cleanup() {
  local d
  for d in "$state" "$base/other"; do
    if [ -f "$d/pg/postmaster.pid" ]; then
      "$yoban" db stop --config "$d/yoban.yaml" >/dev/null 2>&1 ||
        runuser -u "$(stat -c %U "$d/pg")" -- "$PG_BINDIR/pg_ctl" -D "$d/pg" -m immediate -w stop >/dev/null 2>&1 || true
    fi
  done
  rm -rf "$base"
}
trap cleanup EXIT
me=$(id -un)

# --- usage errors ---
check "init without --state-dir: exit 2" 2 "$(status_of "$yoban" init)"
out=$("$yoban" init --state-dir "$base/with space" 2>&1); check "a state folder with a space is refused" 1 "$?"
contains "a state folder with a space: says why" "must be an absolute path of letters" "$out"
check_status "a refused state folder is not created" 1 test -e "$base/with space"

# --- from scratch ---
out=$("$yoban" init --state-dir "$state"); check "init from scratch succeeds" 0 "$?" || bail "init from scratch: $out"
contains "init applies the migrations" "applied migration 001 roles" "$out"
contains "init says where the config is" "wrote $conf" "$out"
check_status "yoban.yaml database line" 0 grep -qxF "database: \"host=$state/run dbname=yoban\"" "$conf"
check_status "yoban.yaml state_dir line" 0 grep -qxF "state_dir: \"$state\"" "$conf"
check_status "the runbooks folder is made" 0 test -d "$state/runbooks"
if [ "$(id -u)" -eq 0 ]; then
  check "as root, the cluster belongs to 'yoban'" yoban "$(stat -c %U "$state/pg")"
fi
check "the data folder is 0700" 700 "$(stat -c %a "$state/pg")"
# socket only: no TCP listener configured
check_status "listen_addresses is empty" 0 grep -q "^listen_addresses = ''" "$state/pg/postgresql.conf"

out=$("$yoban" db status --config "$conf"); check "db status succeeds" 0 "$?"
contains "db status: running" "running (pid" "$out"
n_sql=$(ls "$src"/schemas/sql/[0-9][0-9][0-9]_*.sql | wc -l)
contains "db status: every migration applied" "$n_sql applied, 0 pending" "$out"
json=$("$yoban" db status --config "$conf" --format json); check "db status --format json succeeds" 0 "$?"
check_status "db status --format json: cluster running, every migration applied by postgres" 0 python3 -c '
import json, sys
d = json.loads(sys.argv[1]); n = int(sys.argv[2])
assert d["cluster"]["state"] == "running" and d["cluster"]["pid"] > 0, d["cluster"]
assert d["applied"] == n and d["pending"] == 0 and d["unknown"] == 0, d
assert [m["state"] for m in d["migrations"]] == ["applied"] * n, d["migrations"]
assert all(m["applied_by"] == "postgres" and len(m["sha256"]) == 64 for m in d["migrations"])
' "$json" "$n_sql"

# the caller logs in as themselves (peer) and is admin + operator; the daemon's login works
psql() { "$PG_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$state/run" -d yoban "$@"; }
check "the caller's role: admin and operator" "$me true true" \
  "$(psql -c "SELECT session_user || ' ' || pg_has_role('yoban_admin', 'member') || ' ' || pg_has_role('yoban_operator', 'member')")"
req=$(psql -c "SELECT yoban.yoban_trigger('hello')")
check "a trigger is recorded as $me" "$me" "$(psql -c "SELECT requested_by FROM yoban.requests WHERE id = $req")"
check "the daemon's login" t "$(psql -U yoband -c "SELECT pg_has_role('yoban_daemon', 'member')")"
# peer authentication: the caller may not pass for another role
check_status "the caller cannot log in as another role" 2 psql -U yoban_nobody -c "SELECT 1"
# nothing on TCP
check_status "the cluster does not answer on TCP" 2 "$PG_BINDIR/psql" -X -h 127.0.0.1 -d yoban -c "SELECT 1"

# --- init again: refused; --force keeps the data ---
before=$(stat -c %Y "$conf")
out=$("$yoban" init --state-dir "$state" 2>&1)
contains "init again: already initialised" "already initialised" "$out"
check "init without --force leaves yoban.yaml alone" "$before" "$(stat -c %Y "$conf")"
out=$("$yoban" init --state-dir "$state" --force); check "init --force succeeds" 0 "$?"
contains "init --force keeps the database" "kept the database" "$out"
check "init --force keeps the data" 1 "$(psql -c "SELECT count(*) FROM yoban.requests WHERE id = $req")"

# --- stop, start, stop ---
out=$("$yoban" db stop --config "$conf"); check "db stop succeeds" 0 "$?"
contains "db stop: stopped" "stopped" "$out"
check_status "no postgres running after db stop" 1 pgrep -f -- "-D $state/pg"
out=$("$yoban" db status --config "$conf" 2>&1); check "status on a stopped cluster fails" 1 "$?"
contains "status on a stopped cluster: stopped" "stopped" "$out"
contains "status on a stopped cluster: how to start it" "yoban db start" "$out"
check "migrate on a stopped cluster fails" 1 "$(status_of "$yoban" db migrate --config "$conf")"
check "db start succeeds" 0 "$(status_of "$yoban" db start --config "$conf")"
out=$("$yoban" db start --config "$conf"); check "a second db start succeeds" 0 "$?"
contains "a second db start: already running" "already running" "$out"
check "the data after a restart" 1 "$(psql -c "SELECT count(*) FROM yoban.requests WHERE id = $req")"

# --- as root: the server user must be able to enter the folder ---
if [ "$(id -u)" -eq 0 ]; then
  mkdir -m 0700 "$base/closed"
  out=$("$yoban" init --state-dir "$base/closed/state" 2>&1); check "init in a folder 'yoban' cannot enter fails" 1 "$?"
  contains "init in a folder 'yoban' cannot enter: says so" "cannot enter" "$out"
fi

# --- as root under sudo: the person behind sudo gets the roles; other OS users are only
# themselves (peer), never the superuser ---
if [ "$(id -u)" -eq 0 ] && getent passwd nobody >/dev/null; then
  out=$(SUDO_USER=nobody "$yoban" init --state-dir "$base/other" --config "$base/other.yaml"); check "init under sudo succeeds" 0 "$?"
  contains "init under sudo: the login role of who ran sudo" "login role 'nobody' (who ran sudo)" "$out"
  as_nobody() { runuser -u nobody -- "$PG_BINDIR/psql" -X -q -At -h "$base/other/run" -d yoban "$@"; }
  check "the sudo user's role" "nobody true" "$(as_nobody -c "SELECT session_user || ' ' || pg_has_role('yoban_operator', 'member')")"
  check_status "another OS user cannot log in as postgres" 2 as_nobody -U postgres -c "SELECT 1"
  check_status "another OS user cannot log in as yoband" 2 as_nobody -U yoband -c "SELECT 1"
  check "stop the sudo cluster" 0 "$(status_of "$yoban" db stop --config "$base/other.yaml")"
  rm -rf "$base/other" "$base/other.yaml"
fi

# --- --stop leaves it stopped; --config writes the config elsewhere ---
out=$("$yoban" init --state-dir "$base/other" --config "$base/other.yaml" --stop); check "init --stop succeeds" 0 "$?"
check_status "init --config writes the config there" 0 test -f "$base/other.yaml"
check_status "init --stop leaves the cluster stopped" 1 pgrep -f -- "-D $base/other/pg"

check "the final db stop succeeds" 0 "$(status_of "$yoban" db stop --config "$conf")"
check_status "no postgres of this test is still running" 1 pgrep -f -- "-D $base/"

finish
