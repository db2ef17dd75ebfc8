#!/usr/bin/env bash
# yoban db migrate / status against a real PostgreSQL 15 (tests/integration/lib/pg.sh): applied
# once, a second run is a no-op, a database newer than the binary and an edited migration are
# refused, a broken migration is rolled back whole, two migrators at once serialise, and a second
# database on the same server finds the cluster-wide roles already there.
set -euo pipefail
src=${YB_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${YB_BIN:-$src/build/bin}
. "$src/tests/integration/lib/pg.sh"
yoban=$bin/yoban
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
expect_in() { grep -qF -- "$1" <<<"$2" || fail "expected '$1' in: $2"; }

pg_start
work=$PG_BASE/work
mkdir "$work"
pg_psql -c "CREATE DATABASE yt"
n_sql=$(ls "$src"/schemas/sql/[0-9][0-9][0-9]_*.sql | wc -l)

# --- through --config (yoban.yaml names the database) ---
cat > "$work/yoban.yaml" <<YAML
database: "host=$PGHOST dbname=yt user=postgres"
state_dir: "$work/state"
runbooks: "$work"
YAML
out=$("$yoban" db status --config "$work/yoban.yaml") || fail "status on an empty database should succeed"
expect_in "0 applied, $n_sql pending" "$out"
out=$("$yoban" db migrate --config "$work/yoban.yaml") || fail "first migrate failed: $out"
expect_in "applied 001 roles" "$out"
[ "$(grep -c '^applied ' <<<"$out")" -eq "$n_sql" ] || fail "first migrate applied $(grep -c '^applied ' <<<"$out") of $n_sql: $out"
[ "$(pg_psql -d yt -c 'SELECT count(*) FROM yoban.schema_migrations')" -eq "$n_sql" ] || fail "schema_migrations count"
# what is recorded: the file's digest, who applied it
for f in "$src"/schemas/sql/[0-9][0-9][0-9]_*.sql; do
  v=$((10#$(basename "$f" | cut -c1-3)))
  want=$(sha256sum "$f" | cut -d' ' -f1)
  got=$(pg_psql -d yt -c "SELECT sha256 FROM yoban.schema_migrations WHERE version = $v")
  [ "$want" = "$got" ] || fail "digest of $(basename "$f"): recorded '$got', file '$want'"
done
[ "$(pg_psql -d yt -c "SELECT DISTINCT applied_by FROM yoban.schema_migrations")" = postgres ] || fail "applied_by"

# second run: nothing to do, nothing recorded twice (also through $YOBAN_CONFIG)
out=$(YOBAN_CONFIG=$work/yoban.yaml "$yoban" db migrate) || fail "second migrate failed"
expect_in "up to date" "$out"
[ "$(pg_psql -d yt -c 'SELECT count(*) FROM yoban.schema_migrations')" -eq "$n_sql" ] || fail "second migrate recorded again"
out=$("$yoban" db status --config "$work/yoban.yaml") || fail "status after migrate"
expect_in "$n_sql applied, 0 pending" "$out"

# --- a database newer than the binary ---
pg_psql -d yt -c "INSERT INTO yoban.schema_migrations (version, name, sha256) VALUES (999, 'from_the_future', repeat('a', 64))"
if out=$("$yoban" db migrate --config "$work/yoban.yaml" 2>&1); then fail "migrate accepted a newer database"; fi
expect_in "newer than this yoban" "$out"
expect_in "999 'from_the_future'" "$out"
if out=$("$yoban" db status --config "$work/yoban.yaml" 2>&1); then fail "status accepted a newer database"; fi
expect_in "unknown" "$out"
pg_psql -d yt -c "DELETE FROM yoban.schema_migrations WHERE version = 999"

# --- an applied migration edited afterwards ---
sqldir=$work/sql
cp -r "$src/schemas/sql" "$sqldir"
echo "-- an innocent-looking edit" >> "$sqldir/002_runs.sql"
if out=$(YOBAN_SQL_DIR=$sqldir "$yoban" db migrate --config "$work/yoban.yaml" 2>&1); then fail "migrate accepted an edited migration"; fi
expect_in "002 'runs' was applied" "$out"
expect_in "has changed" "$out"
cp "$src/schemas/sql/002_runs.sql" "$sqldir/002_runs.sql"

# --- a new migration is pending, then applied alone ---
printf 'CREATE TABLE yoban.test_extra (x integer);\n' > "$sqldir/900_extra.sql"
out=$(YOBAN_SQL_DIR=$sqldir "$yoban" db status --config "$work/yoban.yaml") || fail "status with a pending migration"
expect_in "1 pending" "$out"
expect_in "900  extra" "$out"
out=$(YOBAN_SQL_DIR=$sqldir "$yoban" db migrate --config "$work/yoban.yaml") || fail "migrate of 900 failed: $out"
[ "$out" = "$(printf 'applied 900 extra\nthe database is at migration 900 (1 applied now)')" ] || fail "migrate 900 output: $out"
# the binary (without 900) now faces a newer database
if "$yoban" db migrate --config "$work/yoban.yaml" >/dev/null 2>&1; then fail "binary accepted a database with 900"; fi

# --- a broken migration is rolled back whole and not recorded ---
printf 'CREATE TABLE yoban.half_done (x integer);\nSELECT no_such_function();\n' > "$sqldir/901_broken.sql"
if out=$(YOBAN_SQL_DIR=$sqldir "$yoban" db migrate --config "$work/yoban.yaml" 2>&1); then fail "broken migration accepted"; fi
expect_in "migration 901 'broken' failed and was rolled back" "$out"
[ "$(pg_psql -d yt -c "SELECT to_regclass('yoban.half_done') IS NULL")" = t ] || fail "half of 901 stayed"
[ "$(pg_psql -d yt -c "SELECT count(*) FROM yoban.schema_migrations WHERE version = 901")" -eq 0 ] || fail "901 recorded"
rm "$sqldir/901_broken.sql"

# --- bad input ---
if "$yoban" db migrate --config "$work/nope.yaml" 2>/dev/null; then fail "missing config accepted"; fi
set +e; "$yoban" db frobnicate --config "$work/yoban.yaml" 2>/dev/null; st=$?; set -e
[ "$st" -eq 2 ] || fail "unknown subcommand: exit $st, want 2"
set +e; "$yoban" db 2>/dev/null; st=$?; set -e
[ "$st" -eq 2 ] || fail "'yoban db' without a subcommand: exit $st, want 2"
if out=$("$yoban" db migrate --database "host=$PGHOST dbname=no_such_db" 2>&1); then fail "missing database accepted"; fi
expect_in "no_such_db" "$out"

# --- a second database on the same server: the roles exist already; two migrators at once ---
pg_psql -c "CREATE DATABASE yt2"
"$yoban" db migrate --database "dbname=yt2" > "$work/m1.out" 2>&1 &
p1=$!
"$yoban" db migrate --database "dbname=yt2" > "$work/m2.out" 2>&1 &
p2=$!
wait $p1 || fail "concurrent migrate 1: $(cat "$work/m1.out")"
wait $p2 || fail "concurrent migrate 2: $(cat "$work/m2.out")"
total=$(cat "$work/m1.out" "$work/m2.out" | grep -c '^applied ' || true)
[ "$total" -eq "$n_sql" ] || fail "two migrators applied $total migrations together, want $n_sql"
[ "$(pg_psql -d yt2 -c 'SELECT count(*) FROM yoban.schema_migrations')" -eq "$n_sql" ] || fail "yt2 count"

[ "$fails" -eq 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "ok: db migrate"
