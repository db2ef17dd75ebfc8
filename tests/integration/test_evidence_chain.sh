#!/usr/bin/env bash
# The evidence chain (migration 013, docs/evidence.md): a real daemon's runs, approvals and
# incidents are chained; `yoban verify` passes, and names each tampering a superuser can do with
# the triggers off (an altered, deleted or unchained record, an altered or removed chain entry,
# changed output bytes); checkpoints catch truncation and a whole-chain rewrite that plain verify
# cannot; 16 concurrent writers never fork the chain; a database migrated with data verifies.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/assert.sh"
. "$here/lib/pg.sh"
. "$here/lib/daemon.sh"
yoban=$YB_BIN/yoban

yd_setup || bail "yd_setup"
pg_create_login bob yoban_approver
pg_create_login rita yoban_reviewer
cat >"$PG_BASE/op.yaml" <<YAML
database: "host=$PGHOST dbname=yoban"
state_dir: $PG_BASE/op-state
timezone: Asia/Tokyo
YAML
as() { local who=$1; shift; PGUSER=$who YOBAN_CONFIG=$PG_BASE/op.yaml "$@"; }
db_of() { echo "host=$PGHOST dbname=$1 user=postgres"; }
verify() { local db=$1; shift; "$yoban" verify --database "$(db_of "$db")" "$@" 2>&1; }
sql_in() { PGDATABASE=$1 pg_psql -c "$2"; }
clone() { pg_psql -c "CREATE DATABASE $1 TEMPLATE yoban" || bail "clone $1"; }

yd_runbook hello 'targets: { hosts: [local] }
steps:
  - name: say
    run: seq 1 3000; echo "to stderr" >&2'
# A step whose output holds a secret: the stored (masked) bytes are what the runner digested.
mkdir -m 700 "$YD_SITE/secrets"
printf 'tok-s3cret\n' >"$YD_SITE/secrets/token"; chmod 600 "$YD_SITE/secrets/token"
echo "secrets_dir: secrets" >>"$YD_SITE/yoban.yaml"
yd_runbook masked 'targets: { hosts: [local] }
steps:
  - name: show
    run: echo "token=$TOKEN"; seq 1 100
    secrets: { TOKEN: token }'
yd_runbook boom 'targets: { hosts: [local] }
steps:
  - name: fail
    run: echo failing; exit 4'
cat >"$YD_SITE/runbooks/fix.yaml" <<YAML
version: 1
name: fix
kind: batch
approval: { approvers: 1, lead_time: 0s }
targets: { hosts: [local] }
steps:
  - name: patch
    run: echo patched
YAML

# ---- a real daemon makes evidence --------------------------------------------------------------
yd_start
yd_wait_sql "SELECT count(*) FROM yoban.runbook_gates" 4 30 || bail "the daemon loads the runbooks"
as alice "$yoban" trigger hello --wait >/dev/null 2>&1
as alice "$yoban" trigger boom --wait >/dev/null 2>&1
as alice "$yoban" trigger masked --wait >/dev/null 2>&1
fix=$(as alice "$yoban" request fix --reason "INC-7: codes" 2>&1 | sed -n 's/^run //p')
as bob "$yoban" approve "$fix" --comment "ok" >/dev/null 2>&1
yd_wait_sql "SELECT count(*) FROM yoban.runs WHERE state IN ('succeeded', 'failed')" 4 60 ||
  bail "four runs end"
inc=$(yd_sql "SELECT id FROM yoban.incidents")
PGUSER=alice yd_sql "SELECT yoban.yoban_incident_ack($inc, 'looking')" >/dev/null
yd_stop "$YD_PID"

for s in requests runs run_transitions jobs approval_requests approvals gate_decisions incidents audit; do
  check "a real run chains $s" t "$(yd_sql "SELECT count(*) > 0 FROM yoban.evidence_chain WHERE source = '$s'")"
done
check "every job end is chained once" "$(yd_sql "SELECT count(*) FROM yoban.jobs")" \
  "$(yd_sql "SELECT count(*) FROM yoban.evidence_chain WHERE source = 'jobs' AND action = 'end'")"
hello_job=$(yd_sql "SELECT j.id FROM yoban.jobs j JOIN yoban.runs r ON r.id = j.run_id WHERE r.runbook = 'hello'")
check "the job's entry carries its stdout digest" \
  "$(yd_sql "SELECT stdout_sha256 FROM yoban.jobs WHERE id = $hello_job")" \
  "$(yd_sql "SELECT payload->>'stdout_sha256' FROM yoban.evidence_chain WHERE source = 'jobs' AND record_id = '$hello_job'")"
check "the job's entry names its run" "$(yd_sql "SELECT run_id FROM yoban.jobs WHERE id = $hello_job")" \
  "$(yd_sql "SELECT run_id FROM yoban.evidence_chain WHERE source = 'jobs' AND record_id = '$hello_job'")"
check "the approval's entry names the approver" bob \
  "$(yd_sql "SELECT payload->>'approver' FROM yoban.evidence_chain WHERE source = 'approvals'")"
check "the incident's acknowledgement is an entry" "alice ack" \
  "$(yd_sql "SELECT actor || ' ' || action FROM yoban.evidence_chain WHERE source = 'incidents' ORDER BY seq DESC LIMIT 1")"
check "payload times are UTC" t \
  "$(yd_sql "SELECT bool_and(payload->>'ended_at' LIKE '%+00:00') FROM yoban.evidence_chain WHERE source = 'jobs'")"
check "seq is 1..N" "1 $(yd_sql "SELECT count(*) FROM yoban.evidence_chain")" \
  "$(yd_sql "SELECT min(seq) || ' ' || max(seq) FROM yoban.evidence_chain")"

# The SQL hash is chain.h's formula: recomputed here from the entry's fields with Python.
py_hash=$(yd_sql "SELECT encode(prev_hash, 'hex') || '|' || seq || '|' || to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') || '|' || actor || '|' || source || '|' || record_id || '|' || action || '|' || coalesce(run_id::text, '') || '|' || encode(convert_to(payload::text, 'UTF8'), 'hex') FROM yoban.evidence_chain WHERE source = 'jobs' ORDER BY seq LIMIT 1" |
  python3 -c '
import hashlib, struct, sys
f = sys.stdin.read().rstrip("\n").split("|")
lp = lambda s: struct.pack(">I", len(s.encode())) + s.encode()
h = bytes.fromhex(f[0]) + struct.pack(">q", int(f[1])) + b"".join(lp(x) for x in f[2:8])
h += hashlib.sha256(bytes.fromhex(f[8])).digest()
print(hashlib.sha256(h).hexdigest())')
check "the SQL hash equals the formula (Python)" "$py_hash" \
  "$(yd_sql "SELECT encode(hash, 'hex') FROM yoban.evidence_chain WHERE source = 'jobs' ORDER BY seq LIMIT 1")"

masked_job=$(yd_sql "SELECT j.id FROM yoban.jobs j JOIN yoban.runs r ON r.id = j.run_id WHERE r.runbook = 'masked'")
logs=$(as alice "$yoban" logs "$(yd_sql "SELECT run_id FROM yoban.jobs WHERE id = $masked_job")" 2>&1)
contains "the masked step's output is stored" "token=" "$logs"
lacks "... with the secret masked" "tok-s3cret" "$logs"
out=$(as rita "$yoban" verify)
check "verify as a reviewer: exit 0" 0 $?
matches "verify prints OK with the head" "evidence chain OK: head $(yd_sql "SELECT max(seq) FROM yoban.evidence_chain") *" "$out"
contains "verify counts the outputs it hashed" "outputs match" "$out"
json=$(as rita "$yoban" verify --format json)
check "verify --format json says ok" True "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["ok"])' <<<"$json")"
half=$(( $(yd_sql "SELECT max(seq) FROM yoban.evidence_chain") / 2 ))
check_status "verify --from the middle" 0 as rita "$yoban" verify --from "$half"
check_status "verify --from 0 is a usage error" 2 "$yoban" verify --from 0

# ---- append-only, always -----------------------------------------------------------------------
out=$(yd_sql "SET session_replication_role = replica; UPDATE yoban.evidence_chain SET actor = 'x'" 2>&1)
contains "replica mode: the chain still refuses UPDATE" "append-only" "$out"
out=$(yd_sql "SET session_replication_role = replica; DELETE FROM yoban.audit" 2>&1)
contains "replica mode: audit still refuses DELETE (ENABLE ALWAYS)" "append-only" "$out"
out=$(yd_sql "TRUNCATE yoban.evidence_chain" 2>&1)
contains "TRUNCATE of the chain is refused" "append-only" "$out"
out=$(yd_sql "TRUNCATE yoban.checkpoints" 2>&1)
contains "TRUNCATE of the checkpoints is refused" "append-only" "$out"
out=$(PGUSER=yoband yd_sql "DELETE FROM yoban.evidence_chain WHERE seq = 1" 2>&1)
contains "the daemon holds no DELETE on the chain" "permission denied" "$out"
out=$(PGUSER=yoband yd_sql "SELECT yoban.yoban_chain_append('audit', '1', 'forged')" 2>&1)
contains "nobody appends an entry of their choosing" "permission denied" "$out"
n0=$(yd_sql "SELECT count(*) FROM yoban.evidence_chain")
clone rep
sql_in rep "SET session_replication_role = replica; UPDATE yoban.jobs SET exit_status = 9 WHERE id = $hello_job"
check "replica mode does not skip the chain trigger: the change is an entry" "update 9" \
  "$(sql_in rep "SELECT action || ' ' || (payload->>'exit_status') FROM yoban.evidence_chain ORDER BY seq DESC LIMIT 1")"
check_status "a chained change verifies" 0 verify rep

# ---- tampering with the triggers off, each on its own copy -------------------------------------
clone t1
sql_in t1 "ALTER TABLE yoban.jobs DISABLE TRIGGER ALL; UPDATE yoban.jobs SET exit_status = 0 WHERE id = (SELECT id FROM yoban.jobs WHERE exit_status = 4)"
out=$(verify t1); st=$?
check "altered exit_status: exit 1" 1 "$st"
matches "altered exit_status is named" "*chain entry [0-9]* (jobs [0-9]*): the record no longer matches what was chained: exit_status changed*" "$out"

clone t2
sql_in t2 "ALTER TABLE yoban.approvals DISABLE TRIGGER ALL; UPDATE yoban.approvals SET approver = 'mallory'"
out=$(verify t2)
matches "altered approver is named" "*entry [0-9]* (approvals 1): the record no longer matches what was chained: approver changed*" "$out"

clone t3
tr=$(sql_in t3 "SELECT max(id) FROM yoban.run_transitions")
sql_in t3 "ALTER TABLE yoban.run_transitions DISABLE TRIGGER ALL; DELETE FROM yoban.run_transitions WHERE id = $tr"
out=$(verify t3)
contains "a deleted record is named" "(run_transitions $tr): the record no longer exists (deleted)" "$out"

clone t4
sql_in t4 "ALTER TABLE yoban.audit DISABLE TRIGGER ALL; INSERT INTO yoban.audit (action) VALUES ('backdated')"
a=$(sql_in t4 "SELECT max(id) FROM yoban.audit")
out=$(verify t4)
contains "a record without an entry is named" "audit $a has no chain entry" "$out"

clone t5
sql_in t5 "ALTER TABLE yoban.evidence_chain DISABLE TRIGGER ALL; UPDATE yoban.evidence_chain SET payload = jsonb_set(payload, '{actor}', '\"mallory\"') WHERE seq = 3"
out=$(verify t5)
matches "an altered entry payload is named" "*chain entry 3 (*): its payload does not match the payload digest*" "$out"

clone t6
sql_in t6 "ALTER TABLE yoban.evidence_chain DISABLE TRIGGER ALL; UPDATE yoban.evidence_chain SET hash = sha256('x') WHERE seq = 5"
out=$(verify t6)
matches "a wrong hash is named" "*chain entry 5 (*): its hash is not the hash of its fields*" "$out"

clone t7
sql_in t7 "ALTER TABLE yoban.evidence_chain DISABLE TRIGGER ALL; DELETE FROM yoban.evidence_chain WHERE seq = 4"
out=$(verify t7)
contains "a gap is named" "chain entry 4 is missing: the chain goes from 3 to 5" "$out"

clone t8
sql_in t8 "ALTER TABLE yoban.evidence_chain DISABLE TRIGGER ALL; UPDATE yoban.evidence_chain SET actor = 'mallory', hash = yoban.yoban_chain_hash(prev_hash, seq, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), 'mallory', source, record_id, action, coalesce(run_id::text, ''), payload_sha256) WHERE seq = 6"
out=$(verify t8)
contains "an entry rehashed alone breaks the next link" "chain entry 7 (" "$out"
contains "... named as a broken prev_hash" "its prev_hash is not the hash of entry 6" "$out"

clone t9
sql_in t9 "UPDATE yoban.output_chunks SET raw = convert_to(repeat('y', raw_len), 'UTF8'), zstd = NULL WHERE job_id = $hello_job AND stream = 'stdout' AND \"offset\" = (SELECT min(\"offset\") FROM yoban.output_chunks WHERE job_id = $hello_job AND stream = 'stdout')"
out=$(verify t9)
contains "changed output bytes are named" "(jobs $hello_job): its stored stdout does not hash to stdout_sha256" "$out"
clone t10
sql_in t10 "DELETE FROM yoban.output_chunks WHERE job_id = $hello_job AND stream = 'stderr'"
out=$(verify t10)
contains "removed output is named" "(jobs $hello_job): none of its stderr is stored" "$out"
check_status "the untouched database still verifies" 0 verify yoban

# ---- checkpoints -------------------------------------------------------------------------------
keys=$PG_BASE/keys
mkdir -p "$keys"
check_status "checkpoint keygen" 0 "$yoban" checkpoint keygen -o "$keys/site.key"
check "the secret key is 0600" 600 "$(stat -c %a "$keys/site.key")"
check_status "keygen never overwrites" 1 "$yoban" checkpoint keygen -o "$keys/site.key"
"$yoban" checkpoint keygen -o "$keys/other.key" >/dev/null
# Two audit rows at the tail, chained, that a truncation will take away with their entries.
yd_sql "INSERT INTO yoban.audit (action) VALUES ('tail-1'); INSERT INTO yoban.audit (action) VALUES ('tail-2')"
out=$(as rita "$yoban" checkpoint -o "$PG_BASE/cp.json" --key "$keys/site.key" 2>&1)
check "checkpoint as a reviewer: exit 0" 0 $?
cpseq=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seq"])' "$PG_BASE/cp.json")
check "the checkpoint signs the head" "$(yd_sql "SELECT max(seq) FROM yoban.evidence_chain")" "$cpseq"
check "the checkpoint is recorded (public key, no secret)" "$(cat "$keys/site.key.pub")" \
  "$(yd_sql "SELECT public_key FROM yoban.checkpoints")"
out=$(yd_sql "SELECT yoban.yoban_record_checkpoint(1, repeat('ab', 32), now(), repeat('0', 64), repeat('0', 128))" 2>&1)
contains "a checkpoint of a hash the chain does not have is refused" "entry 1 of the evidence chain has hash" "$out"
out=$(verify yoban --checkpoint "$PG_BASE/cp.json" --public-key "$keys/site.key.pub")
check "verify --checkpoint: sound" 0 $?
contains "verify --checkpoint says the chain extends it" "extends checkpoint $cpseq" "$out"
out=$(verify yoban --checkpoint "$PG_BASE/cp.json" --public-key "$keys/other.key.pub")
contains "a checkpoint by another key than the pinned one is refused" "not with the pinned key" "$out"
sed 's/"seq": [0-9]*/"seq": 2/' "$PG_BASE/cp.json" >"$PG_BASE/forged.json"
out=$(verify yoban --checkpoint "$PG_BASE/forged.json")
contains "an edited checkpoint fails its signature" "signature does not match its contents" "$out"

# Truncation: the tail entries and their records go; plain verify cannot tell.
clone trunc
sql_in trunc "ALTER TABLE yoban.evidence_chain DISABLE TRIGGER ALL; ALTER TABLE yoban.audit DISABLE TRIGGER ALL;
  DELETE FROM yoban.evidence_chain WHERE seq > $cpseq - 2; DELETE FROM yoban.audit WHERE action LIKE 'tail-%'"
check_status "a truncated tail passes plain verify" 0 verify trunc
out=$(verify trunc --checkpoint "$PG_BASE/cp.json"); st=$?
check "truncation against the checkpoint: exit 1" 1 "$st"
contains "truncation is named" "below the checkpoint's entry $cpseq" "$out"
contains "... as truncation" "the chain was truncated" "$out"

# A whole-chain rewrite: a job's exit changed and every entry recomputed consistently.
clone rewrite
sql_in rewrite "ALTER TABLE yoban.evidence_chain DISABLE TRIGGER ALL; ALTER TABLE yoban.jobs DISABLE TRIGGER ALL;
UPDATE yoban.jobs SET exit_status = 0, state = 'succeeded' WHERE exit_status = 4;
DO \$\$
DECLARE e record; prev bytea := decode(repeat('00', 32), 'hex'); p jsonb; ps bytea;
BEGIN
  FOR e IN SELECT * FROM yoban.evidence_chain ORDER BY seq LOOP
    p := CASE WHEN e.source = 'jobs' THEN (SELECT x.payload FROM yoban.yoban_evidence_payload(e.source, e.record_id) x) ELSE e.payload END;
    ps := sha256(convert_to(p::text, 'UTF8'));
    UPDATE yoban.evidence_chain SET payload = p, payload_sha256 = ps, prev_hash = prev,
      hash = yoban.yoban_chain_hash(prev, e.seq, to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), e.actor, e.source, e.record_id, e.action, coalesce(e.run_id::text, ''), ps)
      WHERE seq = e.seq RETURNING hash INTO prev;
  END LOOP;
END \$\$"
check "the rewrite changed the chained exit" 0 \
  "$(sql_in rewrite "SELECT count(*) FROM yoban.evidence_chain WHERE source = 'jobs' AND payload->>'exit_status' = '4'")"
out=$(verify rewrite)
check "a whole-chain rewrite passes plain verify (why checkpoints exist)" 0 $?
out=$(verify rewrite --checkpoint "$PG_BASE/cp.json" --public-key "$keys/site.key.pub"); st=$?
check "the rewrite against the checkpoint: exit 1" 1 "$st"
matches "the rewrite is named" "*chain entry $cpseq (*) has hash *, but the checkpoint signed * at that entry: the chain was rewritten*" "$out"

# ---- no deadlock through the chain's lock ------------------------------------------------------
# A writes evidence, then wants the incident's row; B locked the row first, then writes evidence.
# Were the chain's lock taken at the first write, each would wait for the other (like the notice
# worker ending an attempt and then marking the incident notified, against an acknowledgement).
( "$PG_BINDIR/psql" -X -q --no-psqlrc -v ON_ERROR_STOP=1 -d yoban >"$PG_BASE/a.out" 2>&1 <<SQL
BEGIN;
INSERT INTO yoban.audit (action) VALUES ('writer-a');
SELECT pg_sleep(1);
UPDATE yoban.incidents SET escalated_at = now() WHERE id = $inc;
COMMIT;
SQL
echo "rc=$?" >>"$PG_BASE/a.out" ) &
apid=$!
sleep 0.3
"$PG_BINDIR/psql" -X -q --no-psqlrc -v ON_ERROR_STOP=1 -d yoban >"$PG_BASE/b.out" 2>&1 <<SQL
BEGIN;
SELECT 1 FROM yoban.incidents WHERE id = $inc FOR UPDATE;
SELECT pg_sleep(1.5);
UPDATE yoban.incidents SET ack_comment = 'writer-b' WHERE id = $inc;
COMMIT;
SQL
echo "rc=$?" >>"$PG_BASE/b.out"
wait "$apid"
contains "the writer that locked the row first commits" "rc=0" "$(cat "$PG_BASE/b.out")"
contains "the other one waits for it and commits too" "rc=0" "$(cat "$PG_BASE/a.out")"
lacks "no deadlock" "deadlock" "$(cat "$PG_BASE/a.out" "$PG_BASE/b.out")"
check "both changes are chained, in commit order" "ack_comment escalated_at" \
  "$(yd_sql "SELECT string_agg(CASE WHEN payload->>'ack_comment' = 'writer-b' AND payload->>'escalated_at' IS NULL THEN 'ack_comment' WHEN payload->>'escalated_at' IS NOT NULL THEN 'escalated_at' END, ' ' ORDER BY seq) FROM yoban.evidence_chain WHERE source = 'incidents' AND seq > (SELECT max(seq) FROM yoban.evidence_chain WHERE source = 'incidents' AND action = 'ack')")"

# ---- 16 concurrent writers ---------------------------------------------------------------------
before=$(yd_sql "SELECT count(*) FROM yoban.evidence_chain")
pids=()
for w in $(seq 1 16); do
  if [ $((w % 2)) -eq 0 ]; then
    for i in $(seq 1 40); do echo "INSERT INTO yoban.audit (action) VALUES ('load-$w-$i');"; done |
      "$PG_BINDIR/psql" -X -q --no-psqlrc -d yoban >/dev/null 2>&1 &
  else
    for i in $(seq 1 20); do echo "SELECT yoban.yoban_trigger('hello');"; done |
      PGUSER=alice "$PG_BINDIR/psql" -X -q --no-psqlrc -d yoban >/dev/null 2>&1 &
  fi
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
added=$(( $(yd_sql "SELECT count(*) FROM yoban.evidence_chain") - before ))
# each trigger call is a request and an audit row; each audit insert one row
check "every concurrent write was chained" $(( 8 * 40 + 8 * 20 * 2 )) "$added"
check "seq stays gap-free under 16 writers" "1 $(yd_sql "SELECT count(*) FROM yoban.evidence_chain")" \
  "$(yd_sql "SELECT min(seq) || ' ' || max(seq) FROM yoban.evidence_chain")"
check "no fork: each prev_hash is the previous hash" 0 \
  "$(yd_sql "SELECT count(*) FROM (SELECT prev_hash, lag(hash) OVER (ORDER BY seq) AS h, seq FROM yoban.evidence_chain) x WHERE seq > 1 AND prev_hash <> h")"
check_status "verify after 16 writers" 0 verify yoban
check_status "and the old checkpoint is still extended" 0 verify yoban --checkpoint "$PG_BASE/cp.json"

# ---- a database migrated with data in it -------------------------------------------------------
pg_psql -c "CREATE DATABASE old" || bail "create old"
PGDATABASE=old pg_psql -c "CREATE SCHEMA yoban; CREATE TABLE yoban.schema_migrations (version integer PRIMARY KEY, name text NOT NULL, sha256 text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), applied_by text NOT NULL DEFAULT session_user)"
for f in "$here"/../../schemas/sql/0[0-9][0-9]_*.sql; do
  b=$(basename "$f" .sql); v=$((10#${b%%_*}))
  [ "$v" -ge 13 ] && continue
  { echo "SET search_path TO pg_catalog, pg_temp;"; cat "$f"
    echo "INSERT INTO yoban.schema_migrations (version, name, sha256) VALUES ($v, '${b#*_}', '$(sha256sum "$f" | cut -c1-64)');"
  } | PGDATABASE=old pg_psql -1 >/dev/null || bail "apply $b to old"
done
PGDATABASE=old pg_psql -c "INSERT INTO yoban.runs (runbook, trigger) VALUES ('x', 'manual');
  INSERT INTO yoban.run_transitions (run_id, to_state) VALUES (1, 'pending');
  INSERT INTO yoban.jobs (run_id, step, step_index, host, state, ended_at, stdout_sha256) VALUES (1, 's', 0, 'h', 'succeeded', now(), encode(sha256(''), 'hex'));
  INSERT INTO yoban.audit (action, run_id) VALUES ('old', 1)"
check_status "migrate an old database with data" 0 "$yoban" db migrate --database "$(db_of old)"
check "its existing records were chained" 4 \
  "$(PGDATABASE=old pg_psql -c "SELECT count(*) FROM yoban.evidence_chain WHERE action = 'migrated'")"
check_status "a migrated database verifies" 0 verify old

finish
