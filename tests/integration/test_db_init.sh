#!/usr/bin/env bash
# yoban init from scratch in a temp folder: a private cluster (as root: run by the system user
# 'yoban'), the database migrated, the caller an admin and operator, yoban.yaml written; then
# yoban db status / stop / start on it, re-running init (refused without --force, data kept with
# it), the error paths, and no postgres left behind.
set -euo pipefail
src=${YB_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${YB_BIN:-$src/build/bin}
yoban=$bin/yoban
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
expect_in() { grep -qF -- "$1" <<<"$2" || fail "expected '$1' in: $2"; }

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
set +e; "$yoban" init >/dev/null 2>&1; st=$?; set -e
[ "$st" -eq 2 ] || fail "init without --state-dir: exit $st, want 2"
if out=$("$yoban" init --state-dir "$base/with space" 2>&1); then fail "a state folder with a space was accepted"; fi
expect_in "must be an absolute path of letters" "$out"
[ ! -e "$base/with space" ] || fail "a refused state folder was created"

# --- from scratch ---
out=$("$yoban" init --state-dir "$state") || fail "init failed: $out"
expect_in "applied migration 001 roles" "$out"
expect_in "wrote $conf" "$out"
grep -qx "database: \"host=$state/run dbname=yoban\"" "$conf" || fail "yoban.yaml database line: $(cat "$conf")"
grep -qx "state_dir: \"$state\"" "$conf" || fail "yoban.yaml state_dir line"
[ -d "$state/runbooks" ] || fail "the runbooks folder was not made"
if [ "$(id -u)" -eq 0 ]; then
  [ "$(stat -c %U "$state/pg")" = yoban ] || fail "as root, the cluster should belong to 'yoban', not $(stat -c %U "$state/pg")"
fi
[ "$(stat -c %a "$state/pg")" = 700 ] || fail "the data folder is not 0700"
# socket only: no TCP listener configured
grep -q "^listen_addresses = ''" "$state/pg/postgresql.conf" || fail "listen_addresses is not empty"

out=$("$yoban" db status --config "$conf") || fail "db status failed: $out"
expect_in "running (pid" "$out"
n_sql=$(ls "$src"/schemas/sql/[0-9][0-9][0-9]_*.sql | wc -l)
expect_in "$n_sql applied, 0 pending" "$out"
json=$("$yoban" db status --config "$conf" --format json) || fail "db status --format json failed"
python3 -c '
import json, sys
d = json.loads(sys.argv[1]); n = int(sys.argv[2])
assert d["cluster"]["state"] == "running" and d["cluster"]["pid"] > 0, d["cluster"]
assert d["applied"] == n and d["pending"] == 0 and d["unknown"] == 0, d
assert [m["state"] for m in d["migrations"]] == ["applied"] * n, d["migrations"]
assert all(m["applied_by"] == "postgres" and len(m["sha256"]) == 64 for m in d["migrations"])
' "$json" "$n_sql" || fail "db status --format json: $json"

# the caller logs in as themselves (peer) and is admin + operator; the daemon's login works
psql() { "$PG_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$state/run" -d yoban "$@"; }
[ "$(psql -c "SELECT session_user || ' ' || pg_has_role('yoban_admin', 'member') || ' ' || pg_has_role('yoban_operator', 'member')")" = "$me true true" ] ||
  fail "the caller's role"
req=$(psql -c "SELECT yoban.yoban_trigger('hello')")
[ "$(psql -c "SELECT requested_by FROM yoban.requests WHERE id = $req")" = "$me" ] || fail "trigger as $me"
[ "$(psql -U yoband -c "SELECT pg_has_role('yoban_daemon', 'member')")" = t ] || fail "the daemon's login"
# peer authentication: the caller may not pass for another role
if psql -U yoban_nobody -c "SELECT 1" >/dev/null 2>&1; then fail "logged in as a role that is not the caller"; fi
# nothing on TCP
if "$PG_BINDIR/psql" -X -h 127.0.0.1 -d yoban -c "SELECT 1" >/dev/null 2>&1; then fail "the cluster answered on TCP"; fi

# --- init again: refused; --force keeps the data ---
before=$(stat -c %Y "$conf")
out=$("$yoban" init --state-dir "$state" 2>&1) || true
expect_in "already initialised" "$out"
[ "$(stat -c %Y "$conf")" = "$before" ] || fail "init without --force touched yoban.yaml"
out=$("$yoban" init --state-dir "$state" --force) || fail "init --force failed: $out"
expect_in "kept the database" "$out"
[ "$(psql -c "SELECT count(*) FROM yoban.requests WHERE id = $req")" = 1 ] || fail "init --force lost data"

# --- stop, start, stop ---
out=$("$yoban" db stop --config "$conf") || fail "db stop: $out"
expect_in "stopped" "$out"
pgrep -f -- "-D $state/pg" >/dev/null && fail "postgres still running after db stop"
if out=$("$yoban" db status --config "$conf" 2>&1); then fail "status on a stopped cluster should fail"; fi
expect_in "stopped" "$out"
expect_in "yoban db start" "$out"
if "$yoban" db migrate --config "$conf" >/dev/null 2>&1; then fail "migrate on a stopped cluster"; fi
"$yoban" db start --config "$conf" >/dev/null || fail "db start"
out=$("$yoban" db start --config "$conf") || fail "second db start should succeed"
expect_in "already running" "$out"
[ "$(psql -c "SELECT count(*) FROM yoban.requests WHERE id = $req")" = 1 ] || fail "data after restart"

# --- as root: the server user must be able to enter the folder ---
if [ "$(id -u)" -eq 0 ]; then
  mkdir -m 0700 "$base/closed"
  if out=$("$yoban" init --state-dir "$base/closed/state" 2>&1); then fail "init in a folder 'yoban' cannot enter"; fi
  expect_in "cannot enter" "$out"
fi

# --- as root under sudo: the person behind sudo gets the roles; other OS users are only
# themselves (peer), never the superuser ---
if [ "$(id -u)" -eq 0 ] && getent passwd nobody >/dev/null; then
  out=$(SUDO_USER=nobody "$yoban" init --state-dir "$base/other" --config "$base/other.yaml") || fail "init under sudo: $out"
  expect_in "login role 'nobody' (who ran sudo)" "$out"
  as_nobody() { runuser -u nobody -- "$PG_BINDIR/psql" -X -q -At -h "$base/other/run" -d yoban "$@"; }
  [ "$(as_nobody -c "SELECT session_user || ' ' || pg_has_role('yoban_operator', 'member')")" = "nobody true" ] ||
    fail "the sudo user's role"
  if as_nobody -U postgres -c "SELECT 1" >/dev/null 2>&1; then fail "another OS user logged in as postgres"; fi
  if as_nobody -U yoband -c "SELECT 1" >/dev/null 2>&1; then fail "another OS user logged in as yoband"; fi
  "$yoban" db stop --config "$base/other.yaml" >/dev/null || fail "stop the sudo cluster"
  rm -rf "$base/other" "$base/other.yaml"
fi

# --- --stop leaves it stopped; --config writes the config elsewhere ---
out=$("$yoban" init --state-dir "$base/other" --config "$base/other.yaml" --stop) || fail "init --stop: $out"
[ -f "$base/other.yaml" ] || fail "--config path not written"
pgrep -f -- "-D $base/other/pg" >/dev/null && fail "init --stop left the cluster running"

"$yoban" db stop --config "$conf" >/dev/null || fail "final db stop"
pgrep -f -- "-D $base/" >/dev/null && fail "a postgres of this test is still running"

[ "$fails" -eq 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "ok: yoban init"
