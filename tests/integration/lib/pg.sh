# shellcheck shell=bash
# pg.sh: a real, private PostgreSQL for integration tests. Source it, then:
#
#   pg_start                      initdb + start a cluster in a fresh temp folder; exports PGHOST
#                                 (the socket folder), PGPORT, PGUSER=postgres, PGDATABASE=postgres
#   pg_psql [psql args...]        psql as $PGUSER, quiet, stopping at the first error
#   pg_psql_as ROLE [args...]     the same, logged in as ROLE
#   pg_create_login ROLE [GROUP...]  a login role (trust), member of the given group roles
#   pg_stop                       stops the cluster (fast, then immediate) and removes the folder
#   pg_run_as_server CMD...       runs a command as the OS user that owns the cluster
#
# The server listens on a Unix socket only (listen_addresses = ''), in a folder that only the
# server's OS user can enter, and trusts every local connection: the folder is the lock. Tests run
# as root in CI: PostgreSQL refuses to run as root, so the server then runs as a system user
# (PG_TEST_USER, default yoban-test, created with useradd if absent) and root, who can enter any
# folder, connects as whichever role it likes. Run as a normal user, the server runs as that user.
#
# pg_start installs an EXIT trap that calls pg_stop (and any function named in PG_ON_EXIT), so a
# failing test leaves no postgres behind; and a watchdog process that stops the cluster if the
# test's shell dies without running its traps (SIGKILL, a runner's hard timeout).
# PG_BINDIR overrides /usr/lib/postgresql/15/bin.

PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
PG_TEST_USER=${PG_TEST_USER:-yoban-test}
PG_BASE=
PG_DATA=
PG_SOCKDIR=
PG_OS_USER=
PG_WATCHDOG=

pg_run_as_server() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$PG_OS_USER" -- "$@"
  else
    "$@"
  fi
}

pg__ensure_os_user() {
  if [ "$(id -u)" -ne 0 ]; then
    PG_OS_USER=$(id -un)
    return
  fi
  PG_OS_USER=$PG_TEST_USER
  if ! getent passwd "$PG_OS_USER" >/dev/null; then
    # Two tests starting at once may both try; the loser finds the user made.
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
      --user-group "$PG_OS_USER" 2>/dev/null || getent passwd "$PG_OS_USER" >/dev/null || {
      echo "pg.sh: cannot create the system user '$PG_OS_USER' (useradd failed)" >&2
      return 1
    }
  fi
}

pg__on_exit() {
  local status=$?
  if [ -n "${PG_ON_EXIT:-}" ]; then "$PG_ON_EXIT" || true; fi
  pg_stop || true
  exit "$status"
}

pg_start() {
  [ -x "$PG_BINDIR/initdb" ] || { echo "pg.sh: no initdb in '$PG_BINDIR' (install postgresql-15)" >&2; return 1; }
  pg__ensure_os_user || return 1
  PG_BASE=$(mktemp -d "${TMPDIR:-/tmp}/yoban-pg.XXXXXX")
  trap pg__on_exit EXIT
  trap 'exit 130' INT TERM
  PG_DATA=$PG_BASE/data
  PG_SOCKDIR=$PG_BASE/run
  mkdir -m 0700 "$PG_DATA" "$PG_SOCKDIR"
  if [ "$(id -u)" -eq 0 ]; then
    chmod 0711 "$PG_BASE"   # the server user may pass through, not list
    chown "$PG_OS_USER:" "$PG_DATA" "$PG_SOCKDIR"
  fi
  if ! pg_run_as_server "$PG_BINDIR/initdb" -D "$PG_DATA" -U postgres --auth=trust \
       --encoding=UTF8 --locale=C.UTF-8 >"$PG_BASE/initdb.log" 2>&1; then
    echo "pg.sh: initdb failed:" >&2; cat "$PG_BASE/initdb.log" >&2; return 1
  fi
  pg_run_as_server tee -a "$PG_DATA/postgresql.conf" >/dev/null <<CONF
# pg.sh: a private test server, Unix socket only
listen_addresses = ''
unix_socket_directories = '$PG_SOCKDIR'
unix_socket_permissions = 0700
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 40
CONF
  if ! pg_run_as_server "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w -t 60 \
       start >/dev/null 2>&1; then
    echo "pg.sh: the server did not start:" >&2; cat "$PG_DATA/server.log" >&2; return 1
  fi
  # The watchdog: a detached process that outlives a killed test and then cleans up.
  ( trap '' INT TERM HUP
    PG_WATCHDOG=
    while kill -0 "$$" 2>/dev/null; do sleep 1; done
    pg_stop ) </dev/null >/dev/null 2>&1 &
  PG_WATCHDOG=$!
  export PGHOST=$PG_SOCKDIR PGPORT=5432 PGUSER=postgres PGDATABASE=postgres
  unset PGPASSWORD PGSERVICE PGSSLMODE PGOPTIONS
}

pg_stop() {
  [ -n "$PG_BASE" ] || return 0
  if [ -n "$PG_WATCHDOG" ]; then kill "$PG_WATCHDOG" 2>/dev/null || true; PG_WATCHDOG=; fi
  if [ -f "$PG_DATA/postmaster.pid" ]; then
    pg_run_as_server "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1 ||
      pg_run_as_server "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -m immediate -w -t 30 stop >/dev/null 2>&1 ||
      { local pid; pid=$(head -1 "$PG_DATA/postmaster.pid" 2>/dev/null) && [ -n "$pid" ] && kill -9 "$pid"; }
  fi
  rm -rf "$PG_BASE"
  PG_BASE=
}

pg_psql() {
  "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 --no-psqlrc -At "$@"
}

pg_psql_as() {
  local role=$1; shift
  PGUSER=$role pg_psql "$@"
}

pg_create_login() {
  local role=$1; shift
  # psql quotes the name (:"var"); -c would not expand variables, stdin does.
  pg_psql -v role="$role" <<<'CREATE ROLE :"role" LOGIN' || return 1
  local g
  for g in "$@"; do
    pg_psql -v role="$role" -v grp="$g" <<<'GRANT :"grp" TO :"role"' || return 1
  done
}
