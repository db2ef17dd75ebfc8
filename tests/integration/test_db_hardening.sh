#!/usr/bin/env bash
# The embedded cluster admits only whom it names, and a deliberate stop stays stopped (issue 8
# §4, §9). As root: Debian's OS user 'postgres' is NOT the cluster's superuser (the peer map names
# only the init user and the server's user), the init user still is; `yoban init --force` repairs
# the map of a cluster made by an older yoban; `yoban init` refuses a state folder (or a parent)
# that another user owns or may write. Then `yoban db stop` while yoband runs: the cluster stays
# stopped, yoband's log says why, and `yoban db start` ends it.
set -u
B=${YB_BIN:?}
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/assert.sh"
. "$here/lib/daemon.sh"
if [ "$(id -u)" -ne 0 ]; then echo "skip: needs root (OS users, chown)"; exit 0; fi

base=$(mktemp -d "${TMPDIR:-/tmp}/yb-harden.XXXXXX")
chmod 0755 "$base"
# A sticky, world-writable parent (like /tmp) is fine: others cannot rename root's folder in it.
mkdir -m 1777 "$base/sticky"
st=$base/sticky/state
conf=$st/yoban.yaml
cleanup() {
  yd_stop_all
  "$B/yoban" db start --config "$conf" >/dev/null 2>&1
  "$B/yoban" db stop --config "$conf" >/dev/null 2>&1
  rm -rf "$base"
}
trap cleanup EXIT

# ---- a state folder root does not alone control is refused ----
mkdir "$base/nob" && chown nobody "$base/nob"
out=$("$B/yoban" init --state-dir "$base/nob" 2>&1)
check "init in a folder owned by nobody: exit 1" 1 $?
contains "names the folder and its owner" "the state folder '$base/nob' belongs to OS user 'nobody'" "$out"
contains "and the way out" "chown root:root '$base/nob'" "$out"
check "nothing was created there" "" "$(ls -A "$base/nob")"
mkdir -m 0777 "$base/open"; chmod 0777 "$base/open"
out=$("$B/yoban" init --state-dir "$base/open" 2>&1)
check "init in a world-writable folder: exit 1" 1 $?
contains "says every user may write it" "every user may write it" "$out"
mkdir "$base/nobparent" && chown nobody "$base/nobparent"
out=$("$B/yoban" init --state-dir "$base/nobparent/state" 2>&1)
check "init under a parent owned by nobody: exit 1" 1 $?
contains "names the parent" "the folder '$base/nobparent' (a parent of the state folder '$base/nobparent/state') belongs to OS user 'nobody'" "$out"
check_status "the state folder was not made" 1 test -e "$base/nobparent/state"

# ---- the peer map ----
"$B/yoban" init --state-dir "$st" >"$base/init.log" 2>&1
check "init in a root folder under a sticky parent: exit 0" 0 $?
as_os() { # OS-USER PG-ROLE: prints session_user, or nothing when refused
  local os=$1 role=$2
  su "$os" -s /bin/sh -c "'$PG_BINDIR/psql' -X -q -At -h '$st/run' -U '$role' -d yoban -c 'SELECT session_user'" 2>/dev/null
}
check "OS user postgres may not log in as postgres" "" "$(as_os postgres postgres)"
check "OS user postgres may not log in as yoband" "" "$(as_os postgres yoband)"
out=$(su postgres -s /bin/sh -c "'$PG_BINDIR/psql' -X -h '$st/run' -U postgres yoban -c 'SELECT 1'" 2>&1)
contains "the server says why" 'Peer authentication failed for user "postgres"' "$out"
check "OS user nobody may not log in as postgres" "" "$(as_os nobody postgres)"
check "the init user (root) is the superuser" "postgres" "$(as_os root postgres)"
check "the init user is itself" "root" "$(as_os root root)"
check "the init user may be the daemon" "yoband" "$(as_os root yoband)"
check "the server's user is the superuser" "postgres" "$(as_os yoban postgres)"
check "the map has exactly the lines docs/database.md lists" \
  "yoban  root  postgres|yoban  root  yoband|yoban  yoban  postgres|yoban  yoban  yoband|yoban  /^(?!(postgres|yoband)\$)(.*)\$  \\1" \
  "$(grep -v '^#' "$st/pg/pg_ident.conf" | paste -sd'|')"

# ---- an older cluster's map is repaired by init --force ----
su yoban -s /bin/sh -c "printf 'yoban  root  postgres\nyoban  /^(.*)\$  \\\\1\n' >'$st/pg/pg_ident.conf'"
"$PG_BINDIR/pg_ctl" -D "$st/pg" reload >/dev/null 2>&1 || su yoban -s /bin/sh -c "'$PG_BINDIR/pg_ctl' -D '$st/pg' reload" >/dev/null
sleep 0.5
check "(the old map let postgres in)" "postgres" "$(as_os postgres postgres)"
"$B/yoban" init --state-dir "$st" --force >"$base/force.log" 2>&1
check "init --force: exit 0" 0 $?
sleep 0.5
check "after init --force, postgres is refused again" "" "$(as_os postgres postgres)"
check "and root still gets in" "postgres" "$(as_os root postgres)"

# ---- a deliberate stop stays stopped, even with yoband running ----
mkdir -p "$st/runbooks"
YOBAN_RUNNER=$B/yoban-runner yd_start "$base/yoband.log" --config "$conf"
ydpid=$YD_PID
q() { "$PG_BINDIR/psql" -X -q -At -d "host=$st/run dbname=yoban user=postgres" -c "$1" 2>/dev/null; }
got=
for _ in $(seq 100); do got=$(q "SELECT count(*) FROM yoban.heartbeats WHERE pid = $ydpid"); [ "$got" = 1 ] && break; sleep 0.1; done
check "yoband runs on the embedded cluster" 1 "$got"
out=$("$B/yoban" db stop --config "$conf" 2>&1)
check "db stop: exit 0" 0 $?
contains "db stop says it stays stopped" "stays stopped" "$out"
check "the stop is recorded" "stopped_by: root" "$(grep '^stopped_by:' "$st/db-stopped")"
sleep 7 # yoband retries its connection every 2 s
out=$("$B/yoban" db status --config "$conf" 2>&1)
contains "7 s later the cluster is still stopped" "stopped" "$(grep '^cluster:' <<<"$out")"
contains "db status says who stopped it" "was stopped by 'yoban db stop' at" "$out"
contains "yoband's log says why it waits" "stopped by 'yoban db stop' at" "$(cat "$base/yoband.log")"
check "and says it once, not every retry" 1 "$(grep -c "stopped by 'yoban db stop' at" "$base/yoband.log")"
check_status "yoband still runs" 0 yd_running "$ydpid"
out=$("$B/yoban" db start --config "$conf" 2>&1)
check "db start: exit 0" 0 $?
check_status "db start removes the record" 1 test -e "$st/db-stopped"
got=
for _ in $(seq 150); do got=$(q "SELECT count(*) > 0 FROM yoban.heartbeats WHERE pid = $ydpid AND at > now() - interval '3 s'"); [ "$got" = t ] && break; sleep 0.1; done
check "yoband is back on the started cluster" t "$got"
yd_stop "$ydpid"

# ---- init --stop is not a deliberate hold: yoband may start that cluster ----
"$B/yoban" db stop --config "$conf" >/dev/null 2>&1
"$B/yoban" db start --config "$conf" >/dev/null 2>&1
"$B/yoban" init --state-dir "$st" --force --stop >/dev/null 2>&1
check_status "init --stop leaves no record" 1 test -e "$st/db-stopped"

# finish checks yoband's log for a sanitizer report and shows its tail on failure
finish
