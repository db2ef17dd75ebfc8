#!/usr/bin/env bash
# The sql step (a data patch) end to end: yoband, a local runner, and a real PostgreSQL as the
# patched database ("resident", reached as service=resident through a pg_service.conf, with a
# password from the site's secrets folder). One transaction: before, patch, expect_rows, after,
# COMMIT; a wrong row count leaves the table untouched and says both numbers; the before/after
# sets are stored as CSV with rows and SHA-256, listed by `yoban show` and given back byte for
# byte by `yoban artifact`; the runner's step process killed before the patch, after it and
# around COMMIT leaves the table untouched or patched once, and the record says which.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/assert.sh"
. "$here/lib/pg.sh"
. "$here/lib/daemon.sh"
yoban=$YB_BIN/yoban

yd_setup || bail "yd_setup"
work=$PG_BASE/sqlstep
mkdir -p "$work" "$YD_SITE/secrets" "$YD_SITE/procedures"
chmod 700 "$YD_SITE/secrets"
echo "secrets_dir: secrets" >>"$YD_SITE/yoban.yaml"

# ---- the patched database: a table of residents, a login with a password ----
pg_psql -c "CREATE DATABASE resident" || bail "create database resident"
rsql() { PGDATABASE=resident pg_psql -At -c "$1"; }
rsql "CREATE ROLE patcher LOGIN PASSWORD 'pw-7f3a9c'" || bail "role"
rsql "CREATE TABLE residents (id integer PRIMARY KEY, address_code text NOT NULL, note text);
      GRANT SELECT, UPDATE ON residents TO patcher" || bail "table"
reset_data() {
  rsql "TRUNCATE residents;
        INSERT INTO residents SELECT i, CASE WHEN i <= 12 THEN '0123' ELSE '0999' END,
          CASE i WHEN 1 THEN 'comma, here' WHEN 2 THEN 'quote \" here' WHEN 3 THEN E'two\nlines'
                 WHEN 4 THEN '' WHEN 5 THEN NULL ELSE 'n' || i END
        FROM generate_series(1, 20) i" >/dev/null
}
reset_data
# patcher must give its password (scram), everyone else is trusted as before
hba=$(pg_run_as_server cat "$PG_DATA/pg_hba.conf")
printf 'local resident patcher scram-sha-256\n%s\n' "$hba" | pg_run_as_server tee "$PG_DATA/pg_hba.conf" >/dev/null
pg_psql -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
out=$(PGPASSWORD= "$PG_BINDIR/psql" -X -w -d resident -U patcher -c "SELECT 1" 2>&1)
contains "the patch login needs its password" "password" "$out"

cat >"$work/pg_service.conf" <<EOF
[resident]
host=$PGHOST
port=$PGPORT
dbname=resident
user=patcher
EOF
chmod 644 "$work/pg_service.conf"
printf 'pw-7f3a9c\n' >"$YD_SITE/secrets/resident.pw"
chmod 600 "$YD_SITE/secrets/resident.pw"
[ "$(id -u)" -eq 0 ] && chown "$(id -u)" "$YD_SITE/secrets/resident.pw"
echo "# 作業手順書" >"$YD_SITE/procedures/patch.md"

# patch_runbook NAME EXPECT BEFORE AFTER [ENV]: a data patch of the residents with 0123
patch_runbook() {
  cat >"$YD_SITE/runbooks/$1.yaml" <<EOF
version: 1
name: $1
kind: data-patch
title: 住所コード誤登録の修正
approval: { approvers: 1, lead_time: 0s, procedure: ../procedures/patch.md }
targets: { hosts: [local] }
steps:
  - name: fix-address-code
    env: { PGSERVICEFILE: $work/pg_service.conf${5:+, $5} }
    secrets: { PGPASSWORD: resident.pw }
    sql:
      dsn: "service=resident"
      before: "$3"
      patch: "UPDATE residents SET address_code = '0132' WHERE address_code = '0123'"
      expect_rows: $2
      after: "$4"
EOF
}
BEFORE="SELECT id, address_code, note FROM residents WHERE address_code = '0123' ORDER BY id"
AFTER="SELECT id, address_code, note FROM residents WHERE address_code = '0132' ORDER BY id"
patch_runbook patch-ok 12 "$BEFORE" "$AFTER"
patch_runbook patch-wrong 5 "$BEFORE" "$AFTER"
patch_runbook patch-kill-before 12 "SELECT id, address_code FROM residents, pg_sleep(60) WHERE address_code = '0123' ORDER BY id" "$AFTER"
patch_runbook patch-kill-after 12 "$BEFORE" "SELECT id, address_code FROM residents, pg_sleep(60) WHERE address_code = '0132' ORDER BY id"
patch_runbook patch-kill-commit 12 "$BEFORE" "$AFTER"
patch_runbook patch-locked 12 "$BEFORE" "$AFTER"
out=$("$yoban" validate "$YD_SITE/runbooks/patch-ok.yaml" 2>&1)
check "the data patch runbook is valid (validate)" 0 "$?" || echo "$out" >&2

yd_start

# trigger RUNBOOK: the run id, once the request made one
# A data patch needs approval (docs/approvals.md): alice requests it, bob approves it (lead time
# 0s), and yoband starts it; prints the run's id.
pg_create_login bob yoban_approver >/dev/null 2>&1 || true
trigger() {
  local run
  # the request pins the revision yoband loaded: wait until it has
  yd_wait_sql "SELECT count(*) > 0 FROM yoban.runbook_revisions WHERE runbook = '$1'" t 30 >/dev/null || return 1
  run=$(PGUSER=alice yd_sql "SELECT yoban.yoban_request('$1', '{}', NULL, 'test of the sql step')") || return 1
  PGUSER=bob yd_sql "SELECT yoban.yoban_approve($run)" >/dev/null || return 1
  yd_wait_sql "SELECT state <> 'awaiting_approval' FROM yoban.runs WHERE id = $run" t 20 >/dev/null || return 1
  echo "$run"
}
final() { yd_wait_sql "SELECT state IN ('succeeded', 'failed', 'cancelled', 'timed_out') FROM yoban.runs WHERE id = $1" t "${2:-40}"; }
patched() { rsql "SELECT count(*) FROM residents WHERE address_code = '0132'"; }
outcome() { yd_sql "SELECT s.outcome || '|' || s.settled FROM yoban.sql_results s JOIN yoban.jobs j ON j.id = s.job_id WHERE j.run_id = $1"; }

# ---- a patch that matches: committed, evidence stored ----
run=$(trigger patch-ok)
final "$run"; check "the patch run ended" 0 "$?"
check "the patch run succeeded" succeeded "$(yd_sql "SELECT state FROM yoban.runs WHERE id = $run")"
check "12 rows patched, once" 12 "$(patched)"
check "the record: committed, by the step itself" "committed|false" "$(outcome "$run")"
check "rows patched and expected are recorded" "12|12" "$(yd_sql "SELECT patch_rows || '|' || expect_rows FROM yoban.sql_results s JOIN yoban.jobs j ON j.id = s.job_id WHERE j.run_id = $run")"
show=$("$yoban" show "$run" 2>&1)
contains "yoban show: the outcome" "data patch: committed, transaction" "$show"
bsha=$(yd_sql "SELECT a.sha256 FROM yoban.artifacts a JOIN yoban.jobs j ON j.id = a.job_id WHERE j.run_id = $run AND a.name = 'before'")
asha=$(yd_sql "SELECT a.sha256 FROM yoban.artifacts a JOIN yoban.jobs j ON j.id = a.job_id WHERE j.run_id = $run AND a.name = 'after'")
contains "yoban show: the before set, 12 rows, its digest" "artifact before   12 rows" "$show"
contains "  with its digest" "$bsha" "$show"
contains "yoban show: the after set" "artifact after    12 rows" "$show"
"$yoban" artifact "$run" fix-address-code before >"$work/before.csv"
check "yoban artifact before: exit 0" 0 "$?"
check "yoban artifact before: the bytes hash to the recorded digest" "$bsha" "$(sha256sum <"$work/before.csv" | cut -d' ' -f1)"
"$yoban" artifact "$run" fix-address-code after -o "$work/after.csv" 2>/dev/null
check "yoban artifact after -o FILE: exit 0" 0 "$?"
check "  the file hashes to the recorded digest" "$asha" "$(sha256sum <"$work/after.csv" | cut -d' ' -f1)"
check "before.csv: header, CRLF" "$(printf 'id,address_code,note\r')" "$(head -1 "$work/before.csv")"
check "before.csv: a comma is quoted" "$(printf '1,0123,"comma, here"\r')" "$(sed -n 2p "$work/before.csv")"
check "before.csv: a quote is doubled" "$(printf '2,0123,"quote "" here"\r')" "$(sed -n 3p "$work/before.csv")"
check "before.csv: a newline stays inside quotes" "$(printf '3,0123,"two\nlines"\r')" "$(sed -n 4,5p "$work/before.csv")"
check "before.csv: the empty string is \"\", NULL is empty" "$(printf '4,0123,""\r\n5,0123,\r')" "$(sed -n 6,7p "$work/before.csv")"
check "before.csv: 14 lines (the header, 12 records, one holding a newline)" 14 "$(wc -l <"$work/before.csv")"
contains "after.csv: the new code" "12,0132,n12" "$(cat "$work/after.csv")"
out=$("$yoban" artifact "$run" fix-address-code nosuch 2>&1)
check "an unknown artifact: exit 1" 1 "$?"
contains "  names what there is" "fix-address-code after, fix-address-code before" "$out"
logs=$(yd_sql "SELECT encode(zstd, 'hex') FROM yoban.output_chunks o JOIN yoban.jobs j ON j.id = o.job_id WHERE j.run_id = $run ORDER BY o.\"offset\"" | tr -d '\n' | xxd -r -p | zstd -dcq)
contains "the job's output tells the steps" "patch: 12 rows" "$logs"
lacks "the password is in no journal left behind" "pw-7f3a9c" "$(grep -rs pw-7f3a9c "$YD_SITE/state" || true)"

# ---- a wrong row count: rolled back, both numbers said ----
reset_data
run=$(trigger patch-wrong)
final "$run"
check "expect_rows 5, 12 rows: the run failed" failed "$(yd_sql "SELECT state FROM yoban.runs WHERE id = $run")"
check "  the table is untouched" 0 "$(patched)"
err=$(yd_sql "SELECT error FROM yoban.jobs WHERE run_id = $run")
contains "  the message gives both numbers" "the patch changed 12 rows, but expect_rows is 5: rolled back, nothing was changed" "$err"
check "  the record: rolled back" "rolled back|false" "$(outcome "$run")"
contains "  the before set is still evidence" "artifact before   12 rows" "$("$yoban" show "$run")"

# ---- a row locked elsewhere: the lock timeout (30 s) ends the wait, rolled back ----
reset_data
PGDATABASE=resident pg_psql -c "BEGIN; SELECT 1 FROM residents WHERE id = 1 FOR UPDATE; SELECT pg_sleep(40); COMMIT" >/dev/null 2>&1 &
locker=$!
yd_wait_sql "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = 'resident' AND query LIKE '%FOR UPDATE%' AND state = 'active'" t 10
run=$(trigger patch-locked)
final "$run" 60
check "  after about 30 s" t "$(yd_sql "SELECT ended_at - started_at BETWEEN interval '29 s' AND interval '39 s' FROM yoban.runs WHERE id = $run")"
check "a row locked elsewhere: the run failed" failed "$(yd_sql "SELECT state FROM yoban.runs WHERE id = $run")"
contains "  within the lock timeout, and says so" "lock timeout" "$(yd_sql "SELECT error FROM yoban.jobs WHERE run_id = $run")"
check "  the record: rolled back" "rolled back|false" "$(outcome "$run")"
kill "$locker" 2>/dev/null; rsql "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%FOR UPDATE%' AND pid <> pg_backend_pid()" >/dev/null; wait "$locker"
check "  the table is untouched" 0 "$(patched)"

# ---- the step killed at each point ----
# step_pid: the runner's step process of the current patch
step_pid() { pgrep -f "yoban-runner step sql $YD_SITE/" | head -1; }
wait_query() { # SQL-LIKE: until the patch login runs a statement like it
  yd_wait_sql "SELECT count(*) > 0 FROM pg_stat_activity WHERE usename = 'patcher' AND state = 'active' AND query LIKE '$1'" t 20
}

reset_data
run=$(trigger patch-kill-before)
wait_query '%pg_sleep(60)%0123%'; check "kill before the patch: the before query runs" 0 "$?"
pid=$(step_pid); [ -n "$pid" ] && kill -KILL "$pid"
final "$run" 90
check "  the table is untouched" 0 "$(patched)"
check "  the record: rolled back, settled from the target" "rolled back|true" "$(outcome "$run")"
check "  the run failed" failed "$(yd_sql "SELECT state FROM yoban.runs WHERE id = $run")"
contains "  the job says so" "txid_status) says transaction" "$(yd_sql "SELECT error FROM yoban.jobs WHERE run_id = $run")"

reset_data
run=$(trigger patch-kill-after)
wait_query '%pg_sleep(60)%0132%'; check "kill after the patch: the after query runs" 0 "$?"
pid=$(step_pid); [ -n "$pid" ] && kill -KILL "$pid"
final "$run" 90
check "  the table is untouched" 0 "$(patched)"
check "  the record: rolled back, settled" "rolled back|true" "$(outcome "$run")"

# around COMMIT: a deferred trigger makes COMMIT take 3 s
rsql "CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN PERFORM pg_sleep(3); RETURN NULL; END \$\$;
      CREATE CONSTRAINT TRIGGER slow_commit AFTER UPDATE ON residents DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW WHEN (NEW.id = 1) EXECUTE FUNCTION slow_commit()" >/dev/null
reset_data
run=$(trigger patch-kill-commit)
wait_query 'COMMIT'; check "kill during COMMIT: COMMIT runs" 0 "$?"
pid=$(step_pid); [ -n "$pid" ] && kill -KILL "$pid"
final "$run" 90
rec=$(outcome "$run"); n=$(patched)
case "$rec|$n" in
  "committed|true|12"|"rolled back|true|0") pass=0 ;;
  *) pass=1 ;;
esac
check "  patched once and recorded committed, or untouched and rolled back ($rec, $n rows)" 0 "$pass"

# the step stopped in COMMIT until the server has committed, then killed: it never learns the
# outcome; the record must say committed, from the target's txid_status
reset_data
run=$(trigger patch-kill-commit)
wait_query 'COMMIT'; check "stop in COMMIT: COMMIT runs" 0 "$?"
pid=$(step_pid); [ -n "$pid" ] && kill -STOP "$pid"
yd_wait_sql "SELECT count(*) FROM pg_stat_activity WHERE usename = 'patcher' AND state = 'active' AND query = 'COMMIT'" 0 20
[ -n "$pid" ] && kill -KILL "$pid"
final "$run" 90
check "  patched once" 12 "$(patched)"
check "  the record: committed, settled from the target" "committed|true" "$(outcome "$run")"
check "  the run succeeded (the patch is applied)" succeeded "$(yd_sql "SELECT state FROM yoban.runs WHERE id = $run")"
contains "  the job says how it was settled" "says transaction" "$(yd_sql "SELECT error FROM yoban.jobs WHERE run_id = $run")"
contains "  yoban show says settled" "committed (settled from the target's record)" "$("$yoban" show "$run")"

# the link to the database cut during COMMIT (the server's backend terminated): the step itself
# settles the outcome from a new connection
reset_data
run=$(trigger patch-kill-commit)
wait_query 'COMMIT'; check "link cut in COMMIT: COMMIT runs" 0 "$?"
rsql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'patcher' AND query = 'COMMIT'" >/dev/null
final "$run" 90
rec=$(outcome "$run"); n=$(patched)
case "$rec|$n" in
  "committed|true|12"|"rolled back|true|0") pass=0 ;;
  *) pass=1 ;;
esac
check "  patched once and recorded committed, or untouched and rolled back ($rec, $n rows)" 0 "$pass"
contains "  the job says COMMIT got no clear answer" "COMMIT of transaction" "$(yd_sql "SELECT error FROM yoban.jobs WHERE run_id = $run")"
rsql "DROP TRIGGER slow_commit ON residents" >/dev/null

# yoband killed while the step runs: the next one re-attaches, and the evidence is stored
reset_data
patch_runbook patch-slow 12 "SELECT id, address_code FROM residents, pg_sleep(3) WHERE address_code = '0123' ORDER BY id" "$AFTER"
kill -HUP "$YD_PID"; sleep 1
run=$(trigger patch-slow)
wait_query '%pg_sleep(3)%'; check "yoband killed mid-patch: the before query runs" 0 "$?"
yd_kill "$YD_PID"
yd_start
final "$run" 60
check "  the re-attached run succeeded" succeeded "$(yd_sql "SELECT state FROM yoban.runs WHERE id = $run")"
check "  patched once" 12 "$(patched)"
check "  the record: committed by the step" "committed|false" "$(outcome "$run")"
check "  both sets stored" "after:12|before:12" "$(yd_sql "SELECT string_agg(a.name || ':' || a.rows, '|' ORDER BY a.name) FROM yoban.artifacts a JOIN yoban.jobs j ON j.id = a.job_id WHERE j.run_id = $run")"

# evidence is append-only
out=$(yd_sql "DELETE FROM yoban.artifacts" 2>&1)
contains "the artifacts cannot be deleted, even by the superuser" "append-only" "$out"

finish
