#!/usr/bin/env bash
# yoban db migrate / status against a real PostgreSQL 15 (tests/integration/lib/pg.sh): applied
# once, a second run is a no-op, a database newer than the binary and an edited migration are
# refused, a broken migration is rolled back whole, two migrators at once serialise, and a second
# database on the same server finds the cluster-wide roles already there.
set -uo pipefail
src=${YB_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${YB_BIN:-$src/build/bin}
. "$src/tests/integration/lib/assert.sh"
. "$src/tests/integration/lib/pg.sh"
yoban=$bin/yoban

pg_start || bail "PostgreSQL starts"
work=$PG_BASE/work
mkdir "$work" || bail "the work folder"
pg_psql -c "CREATE DATABASE yt" || bail "CREATE DATABASE yt"
n_sql=$(ls "$src"/schemas/sql/[0-9][0-9][0-9]_*.sql | wc -l)

# --- through --config (yoban.yaml names the database) ---
cat > "$work/yoban.yaml" <<YAML
database: "host=$PGHOST dbname=yt user=postgres"
state_dir: "$work/state"
runbooks: "$work"
YAML
out=$("$yoban" db status --config "$work/yoban.yaml"); check "status on an empty database succeeds" 0 "$?"
contains "status on an empty database: all pending" "0 applied, $n_sql pending" "$out"
out=$("$yoban" db migrate --config "$work/yoban.yaml"); check "first migrate succeeds" 0 "$?"
contains "first migrate applies 001" "applied 001 roles" "$out"
check "first migrate applies every migration" "$n_sql" "$(grep -c '^applied ' <<<"$out")"
check "schema_migrations count" "$n_sql" "$(pg_psql -d yt -c 'SELECT count(*) FROM yoban.schema_migrations')"
# what is recorded: the file's digest, who applied it
for f in "$src"/schemas/sql/[0-9][0-9][0-9]_*.sql; do
  v=$((10#$(basename "$f" | cut -c1-3)))
  want=$(sha256sum "$f" | cut -d' ' -f1)
  got=$(pg_psql -d yt -c "SELECT sha256 FROM yoban.schema_migrations WHERE version = $v")
  check "digest of $(basename "$f") recorded" "$want" "$got"
done
check "applied_by" postgres "$(pg_psql -d yt -c "SELECT DISTINCT applied_by FROM yoban.schema_migrations")"

# second run: nothing to do, nothing recorded twice (also through $YOBAN_CONFIG)
out=$(YOBAN_CONFIG=$work/yoban.yaml "$yoban" db migrate); check "second migrate succeeds" 0 "$?"
contains "second migrate: up to date" "up to date" "$out"
check "second migrate records nothing again" "$n_sql" "$(pg_psql -d yt -c 'SELECT count(*) FROM yoban.schema_migrations')"
out=$("$yoban" db status --config "$work/yoban.yaml"); check "status after migrate succeeds" 0 "$?"
contains "status after migrate: all applied" "$n_sql applied, 0 pending" "$out"

# --- a database newer than the binary ---
pg_psql -d yt -c "INSERT INTO yoban.schema_migrations (version, name, sha256) VALUES (999, 'from_the_future', repeat('a', 64))" ||
  bail "record a migration from the future"
out=$("$yoban" db migrate --config "$work/yoban.yaml" 2>&1); check "migrate refuses a newer database" 1 "$?"
contains "newer database: says so" "newer than this yoban" "$out"
contains "newer database: names the migration" "999 'from_the_future'" "$out"
out=$("$yoban" db status --config "$work/yoban.yaml" 2>&1); check "status refuses a newer database" 1 "$?"
contains "newer database: status says unknown" "unknown" "$out"
pg_psql -d yt -c "DELETE FROM yoban.schema_migrations WHERE version = 999" || bail "forget the migration from the future"

# --- an applied migration edited afterwards ---
sqldir=$work/sql
cp -r "$src/schemas/sql" "$sqldir"
echo "-- an innocent-looking edit" >> "$sqldir/002_runs.sql"
out=$(YOBAN_SQL_DIR=$sqldir "$yoban" db migrate --config "$work/yoban.yaml" 2>&1); check "migrate refuses an edited migration" 1 "$?"
contains "edited migration: named" "002 'runs' was applied" "$out"
contains "edited migration: has changed" "has changed" "$out"
cp "$src/schemas/sql/002_runs.sql" "$sqldir/002_runs.sql"

# --- a new migration is pending, then applied alone ---
printf 'CREATE TABLE yoban.test_extra (x integer);\n' > "$sqldir/900_extra.sql"
out=$(YOBAN_SQL_DIR=$sqldir "$yoban" db status --config "$work/yoban.yaml"); check "status with a pending migration succeeds" 0 "$?"
contains "status: 1 pending" "1 pending" "$out"
contains "status: names 900" "900  extra" "$out"
out=$(YOBAN_SQL_DIR=$sqldir "$yoban" db migrate --config "$work/yoban.yaml"); check "migrate of 900 succeeds" 0 "$?"
check "migrate 900 output" "$(printf 'applied 900 extra\nthe database is at migration 900 (1 applied now)')" "$out"
# the binary (without 900) now faces a newer database
check "the binary refuses a database with 900" 1 "$(status_of "$yoban" db migrate --config "$work/yoban.yaml")"

# --- a broken migration is rolled back whole and not recorded ---
printf 'CREATE TABLE yoban.half_done (x integer);\nSELECT no_such_function();\n' > "$sqldir/901_broken.sql"
out=$(YOBAN_SQL_DIR=$sqldir "$yoban" db migrate --config "$work/yoban.yaml" 2>&1); check "a broken migration is refused" 1 "$?"
contains "broken migration: rolled back" "migration 901 'broken' failed and was rolled back" "$out"
check "no half of 901 stayed" t "$(pg_psql -d yt -c "SELECT to_regclass('yoban.half_done') IS NULL")"
check "901 not recorded" 0 "$(pg_psql -d yt -c "SELECT count(*) FROM yoban.schema_migrations WHERE version = 901")"
rm "$sqldir/901_broken.sql"

# --- bad input ---
check_status "missing config refused" 2 "$yoban" db migrate --config "$work/nope.yaml"
check "unknown subcommand: exit 2" 2 "$(status_of "$yoban" db frobnicate --config "$work/yoban.yaml")"
check "'yoban db' without a subcommand: exit 2" 2 "$(status_of "$yoban" db)"
out=$("$yoban" db migrate --database "host=$PGHOST dbname=no_such_db" 2>&1); check "missing database refused" 1 "$?"
contains "missing database named" "no_such_db" "$out"

# --- a second database on the same server: the roles exist already; two migrators at once ---
pg_psql -c "CREATE DATABASE yt2" || bail "CREATE DATABASE yt2"
"$yoban" db migrate --database "dbname=yt2" > "$work/m1.out" 2>&1 &
p1=$!
"$yoban" db migrate --database "dbname=yt2" > "$work/m2.out" 2>&1 &
p2=$!
wait $p1; check "concurrent migrate 1 succeeds" 0 "$?" || cat "$work/m1.out"
wait $p2; check "concurrent migrate 2 succeeds" 0 "$?" || cat "$work/m2.out"
total=$(cat "$work/m1.out" "$work/m2.out" | grep -c '^applied ')
check "two migrators applied every migration once together" "$n_sql" "$total"
check "yt2 count" "$n_sql" "$(pg_psql -d yt2 -c 'SELECT count(*) FROM yoban.schema_migrations')"

finish
