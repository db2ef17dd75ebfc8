#!/usr/bin/env bash
# Evidence bundles end to end: a real data patch (an sql step on a real "resident" database,
# requested by alice, approved by bob, run by yoband through a local runner) exported with
# `yoban evidence export`, checked by hand as the README says (tar and sha256sum against the
# manifest, chain.jsonl against the database), and verified by `yoban evidence verify` with the
# database stopped. Then one byte changed: in the compressed stream at several places, and inside
# members rewritten into a new valid tar.zst (an output byte, a payload byte of chain.jsonl, a
# digest of manifest.json; with the manifest left as it was and recomputed), each caught with a
# message naming the file or entry. A run that does not exist, a run with no chain entries and an
# existing -o file are clear errors that leave no file behind.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/assert.sh"
. "$here/lib/pg.sh"
. "$here/lib/daemon.sh"
yoban=$YB_BIN/yoban

yd_setup || bail "yd_setup"
work=$PG_BASE/bundle
mkdir -p "$work" "$YD_SITE/secrets" "$YD_SITE/procedures"
chmod 700 "$YD_SITE/secrets"
echo "secrets_dir: secrets" >>"$YD_SITE/yoban.yaml"

# ---- the patched database and the data patch runbook (as in test_sql_step.sh) ----
pg_psql -c "CREATE DATABASE resident" || bail "create database resident"
rsql() { PGDATABASE=resident pg_psql -At -c "$1"; }
rsql "CREATE ROLE patcher LOGIN PASSWORD 'pw-5e1b' ;
      CREATE TABLE residents (id integer PRIMARY KEY, address_code text NOT NULL, note text);
      GRANT SELECT, UPDATE ON residents TO patcher;
      INSERT INTO residents SELECT i, CASE WHEN i <= 12 THEN '0123' ELSE '0999' END, '住所 ' || i
        FROM generate_series(1, 20) i" >/dev/null || bail "resident table"
cat >"$work/pg_service.conf" <<EOF
[resident]
host=$PGHOST
port=$PGPORT
dbname=resident
user=patcher
EOF
chmod 644 "$work/pg_service.conf"
printf 'pw-5e1b\n' >"$YD_SITE/secrets/resident.pw"
chmod 600 "$YD_SITE/secrets/resident.pw"
echo "# 作業手順書: 住所コードの修正" >"$YD_SITE/procedures/patch.md"
cat >"$YD_SITE/runbooks/fix-address.yaml" <<EOF
version: 1
name: fix-address
kind: data-patch
title: 住所コード誤登録の修正
approval: { approvers: 1, lead_time: 0s, procedure: ../procedures/patch.md }
targets: { hosts: [local] }
steps:
  - name: fix-address-code
    env: { PGSERVICEFILE: $work/pg_service.conf }
    secrets: { PGPASSWORD: resident.pw }
    sql:
      dsn: "service=resident"
      before: "SELECT id, address_code, note FROM residents WHERE address_code = '0123' ORDER BY id"
      patch: "UPDATE residents SET address_code = '0132' WHERE address_code = '0123'"
      expect_rows: 12
      after: "SELECT id, address_code, note FROM residents WHERE address_code = '0132' ORDER BY id"
  - name: report
    run: "echo 修正完了 12 件; echo 'a warning' >&2"
EOF
pg_create_login bob yoban_approver >/dev/null 2>&1 || true
pg_create_login carol yoban_reviewer >/dev/null 2>&1 || true
out=$("$yoban" validate "$YD_SITE/runbooks/fix-address.yaml" 2>&1)
check "the data patch runbook is valid" 0 "$?" || echo "$out" >&2

yd_start
yd_wait_sql "SELECT count(*) > 0 FROM yoban.runbook_revisions WHERE runbook = 'fix-address'" t 30 >/dev/null ||
  bail "yoband loaded the runbook"
run=$(PGUSER=alice yd_sql "SELECT yoban.yoban_request('fix-address', '{}', NULL, 'ticket 42')") || bail "request"
PGUSER=bob yd_sql "SELECT yoban.yoban_approve($run)" >/dev/null || bail "approve"
yd_wait_sql "SELECT state IN ('succeeded', 'failed') FROM yoban.runs WHERE id = $run" t 60 >/dev/null
check "the data patch run succeeded" succeeded "$(yd_sql "SELECT state FROM yoban.runs WHERE id = $run")"
yd_stop_all

# ---- export ----
b=$work/run-$run.tar.zst
# carol, a reviewer (read access only), exports it
sed 's/user=yoband/user=carol/' "$YD_SITE/yoban.yaml" >"$YD_SITE/carol.yaml"
out=$("$yoban" evidence export "$run" -o "$b" --config "$YD_SITE/carol.yaml" 2>&1)
check "export: exit 0" 0 "$?" || echo "$out" >&2
contains "export: says what it wrote and that it verified it" "wrote and verified $b: run $run of runbook 'fix-address'" "$out"
lacks "export: no progress line off a terminal" "written," "$out"
check "export: the bundle is there, mode 0600" 600 "$(stat -c %a "$b")"
check "export: no FILE.tmp left" "" "$(ls "$b.tmp" 2>/dev/null)"
# YB_KEEP_BUNDLE=FILE keeps a copy (the seed of tests/fuzz/corpus/bundle/ was made so)
[ -z "${YB_KEEP_BUNDLE:-}" ] || cp "$b" "$YB_KEEP_BUNDLE"
members=$(tar --zstd -tf "$b" | sort | tr '\n' ' ')
jobs=$(yd_sql "SELECT string_agg(id::text, ' ' ORDER BY step_index) FROM yoban.jobs WHERE run_id = $run")
j1=${jobs%% *}; j2=${jobs##* }
check "the members: manifest, run, chain, README, both jobs' outputs, both artifacts" \
  "README.txt artifacts/$j1-after.csv artifacts/$j1-before.csv chain.jsonl manifest.json outputs/$j1-fix-address-code-local.stderr outputs/$j1-fix-address-code-local.stdout outputs/$j2-report-local.stderr outputs/$j2-report-local.stdout run.json " \
  "$members"

# ---- checked by hand, as README.txt says ----
x=$work/x; mkdir -p "$x"
tar --zstd -xf "$b" -C "$x" || bail "tar extracts the bundle"
contains "README.txt: Japanese" "確認方法: yoban evidence verify" "$(cat "$x/README.txt")"
contains "README.txt: English" "To check it: yoban evidence verify" "$(cat "$x/README.txt")"
m=$x/manifest.json
check "manifest: format" "yoban-evidence-bundle/1" "$(jq -r .format "$m")"
check "manifest: the run" "$run" "$(jq -r .run_id "$m")"
check "manifest: the runbook" "fix-address" "$(jq -r .runbook "$m")"
check "manifest: exported by the reviewer's login" "carol" "$(jq -r .exported_by "$m")"
matches "manifest: exported_at in UTC" '20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z' "$(jq -r .exported_at "$m")"
check "manifest: the site id" "$(yd_sql "SELECT id FROM yoban.site")" "$(jq -r .site "$m")"
check "manifest: the chain head at export" \
  "$(yd_sql "SELECT seq || ' ' || encode(hash, 'hex') FROM yoban.evidence_chain ORDER BY seq DESC LIMIT 1")" \
  "$(jq -r '"\(.chain_head.seq) \(.chain_head.hash)"' "$m")"
bad=$(cd "$x" && jq -r '.files[] | "\(.sha256)  \(.path)"' manifest.json | sha256sum -c --quiet 2>&1)
check "by hand: every file's sha256 is the manifest's (sha256sum -c)" "" "$bad"
check "by hand: every file's size is the manifest's" "" \
  "$(cd "$x" && jq -r '.files[] | "\(.bytes) \(.path)"' manifest.json | while read -r n p; do [ "$(stat -c %s "$p")" = "$n" ] || echo "$p"; done)"
check "chain.jsonl: the run's entries and its request's, as the database holds them" \
  "$(yd_sql "SELECT string_agg(seq || ' ' || encode(hash, 'hex'), ',' ORDER BY seq) FROM yoban.evidence_chain WHERE run_id = $run OR (source = 'requests' AND record_id = (SELECT request_id::text FROM yoban.runs WHERE id = $run))")" \
  "$(jq -r '"\(.seq) \(.hash)"' "$x/chain.jsonl" | paste -sd,)"
check "chain.jsonl: each payload's text is the database's, byte for byte" \
  "$(yd_sql "SELECT md5(string_agg(payload::text, E'\n' ORDER BY seq)) FROM yoban.evidence_chain WHERE run_id = $run")" \
  "$(jq -j '.payload + "\n"' "$x/chain.jsonl" | head -c -1 | md5sum | cut -d' ' -f1)"
check "outputs: the patch step's stdout has the digest the job recorded" \
  "$(yd_sql "SELECT stdout_sha256 FROM yoban.jobs WHERE id = $j1")" \
  "$(sha256sum <"$x/outputs/$j1-fix-address-code-local.stdout" | cut -d' ' -f1)"
contains "outputs: the report step's stdout" "修正完了 12 件" "$(cat "$x/outputs/$j2-report-local.stdout")"
check "artifacts: before.csv is the stored artifact" \
  "$(yd_sql "SELECT sha256 FROM yoban.artifacts WHERE job_id = $j1 AND name = 'before'")" \
  "$(sha256sum <"$x/artifacts/$j1-before.csv" | cut -d' ' -f1)"
check "run.json: the approval, by bob" "bob" "$(jq -r '.records.approvals[0].record.approver' "$x/run.json")"
check "run.json: the approval request, by alice, with its reason" "alice ticket 42" \
  "$(jq -r '.records.approval_requests[0].record | "\(.requested_by) \(.reason)"' "$x/run.json")"
check "run.json: both jobs ended, in order" "fix-address-code succeeded,report succeeded" \
  "$(jq -r '[.records.jobs[].record | "\(.step) \(.state)"] | join(",")' "$x/run.json")"
check "run.json: the sql result, committed" "committed" "$(jq -r '.records.sql_results[0].record.outcome' "$x/run.json")"
contains "run.json: the transitions end in succeeded" "succeeded" "$(jq -r '.records.run_transitions[-1].record.to_state' "$x/run.json")"

# ---- verify, offline: the database is stopped and no site config is named ----
pg_run_as_server "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1
check "the database is down (pg_isready: no answer)" 2 "$(status_of "$PG_BINDIR/pg_isready" -q -h "$PGHOST")"
out=$(env -u YOBAN_CONFIG "$yoban" evidence verify "$b" 2>&1)
check "verify offline: exit 0" 0 "$?" || echo "$out" >&2
contains "verify offline: OK, the run" "OK $b: run $run of runbook 'fix-address'" "$out"
contains "verify offline: the outputs and artifacts checked" "(4 outputs, 2 artifacts)" "$out"
contains "verify offline: the chain head" "chain head at export: seq $(jq -r .chain_head.seq "$m")" "$out"
json=$(env -u YOBAN_CONFIG "$yoban" evidence verify "$b" --format json)
check "verify --format json: ok, run, entries" "true $run $(wc -l <"$x/chain.jsonl")" "$(jq -r '"\(.ok) \(.run_id) \(.entries)"' <<<"$json")"

# bad BUNDLE NEEDLE...: verify fails (exit 1) naming each needle
bad() {
  local name=$1 f=$2; shift 2
  local o n
  o=$(env -u YOBAN_CONFIG "$yoban" evidence verify "$f" 2>&1)
  check "$name: exit 1" 1 "$?"
  for n in "$@"; do contains "$name: says" "$n" "$o"; done
}

# one byte of the compressed file changed, at several places: a change that alters the content
# must fail; one that leaves the content as it was (zstd's few redundant bits) may pass
size=$(stat -c %s "$b")
zstd -dcq "$b" >"$work/orig.tar"
caught=0
for at in 20 $((size / 5)) $((size / 2)) $((size * 4 / 5)) $((size - 2)); do
  cp "$b" "$work/flip.tar.zst"
  byte=$(od -An -tu1 -j "$at" -N1 "$b" | tr -d ' ')
  printf '%b' "\\$(printf '%03o' $((byte ^ 0x55)))" | dd of="$work/flip.tar.zst" bs=1 seek="$at" conv=notrunc status=none
  if o=$(env -u YOBAN_CONFIG "$yoban" evidence verify "$work/flip.tar.zst" 2>&1); then
    zstd -dcq "$work/flip.tar.zst" 2>/dev/null | cmp -s - "$work/orig.tar"
    check "a flip at byte $at that verified left the content unchanged" 0 "$?"
  else
    caught=$((caught + 1))
    matches "a flip at byte $at: one line naming the file" "yoban: error: '$work/flip.tar.zst': ?*" "$o"
    check "a flip at byte $at: one line" 1 "$(printf '%s\n' "$o" | wc -l)"
    lacks "a flip at byte $at: no crash" "Sanitizer" "$o"
  fi
done
check "at least four of the five flips were caught" t "$([ "$caught" -ge 4 ] && echo t || echo f)"
head -c $((size / 2)) "$b" >"$work/cut.tar.zst"
bad "a bundle cut in half" "$work/cut.tar.zst" "zstd"

# repack DIR FILE: the members of DIR (files only, no folder entries) as a new valid tar.zst
repack() { (cd "$1" && find . -type f | sed 's|^\./||' | sort | tar --zstd --format=pax -cf "$2" -T -); }
# fixman DIR: the manifest's size and sha256 of every file made true again (the forger's next step)
fixman() {
  local d=$1 p tmp=$1/../manifest.new
  cp "$d/manifest.json" "$tmp"
  for p in $(jq -r '.files[].path' "$d/manifest.json"); do
    jq --arg p "$p" --arg s "$(sha256sum <"$d/$p" | cut -d' ' -f1)" --argjson n "$(stat -c %s "$d/$p")" \
      '(.files[] | select(.path == $p)) |= (.sha256 = $s | .bytes = $n)' "$tmp" >"$tmp.2" && mv "$tmp.2" "$tmp"
  done
  mv "$tmp" "$d/manifest.json"
}
fresh() { rm -rf "$work/t"; mkdir -p "$work/t"; tar --zstd -xf "$b" -C "$work/t"; }

fresh; repack "$work/t" "$work/same.tar.zst"
out=$(env -u YOBAN_CONFIG "$yoban" evidence verify "$work/same.tar.zst" 2>&1)
check "repacked by GNU tar, unchanged: still verifies" 0 "$?" || echo "$out" >&2

o1=outputs/$j1-fix-address-code-local.stdout
fresh; printf 'X' | dd of="$work/t/$o1" bs=1 seek=3 conv=notrunc status=none; repack "$work/t" "$work/o.tar.zst"
bad "an output byte changed" "$work/o.tar.zst" "'$o1' has sha256" "manifest.json says"
fixman "$work/t"; repack "$work/t" "$work/o2.tar.zst"
bad "an output byte changed, manifest recomputed" "$work/o2.tar.zst" "'$o1' has sha256" "chain entry" "(jobs $j1) records"

fresh
seq_j=$(jq -r "select(.source == \"jobs\" and .record_id == \"$j1\") | .seq" "$work/t/chain.jsonl" | tail -1)
sed -i "/\"seq\":$seq_j,/s/fix-address-code/fix-address-codf/" "$work/t/chain.jsonl"
repack "$work/t" "$work/c.tar.zst"
bad "a payload byte in chain.jsonl changed" "$work/c.tar.zst" "'chain.jsonl' has sha256"
fixman "$work/t"; repack "$work/t" "$work/c2.tar.zst"
bad "a payload byte in chain.jsonl changed, manifest recomputed" "$work/c2.tar.zst" "entry $seq_j (jobs $j1): its payload does not match"

fresh
a1=artifacts/$j1-after.csv
old=$(jq -r ".files[] | select(.path == \"$a1\") | .sha256" "$work/t/manifest.json")
new=$(printf '%s' "$old" | sed 's/^./f/'); [ "$new" = "$old" ] && new=$(printf '%s' "$old" | sed 's/^./e/')
sed -i "s/$old/$new/" "$work/t/manifest.json"
repack "$work/t" "$work/m.tar.zst"
bad "a digest in manifest.json changed" "$work/m.tar.zst" "'$a1' has sha256 $old, manifest.json says $new"

fresh
sed -i 's/"approver": "bob"/"approver": "eve"/' "$work/t/run.json"
fixman "$work/t"; repack "$work/t" "$work/r.tar.zst"
bad "run.json says another approver" "$work/r.tar.zst" "run.json: records.approvals[0]" "is not the payload of chain entry"

# ---- refusals ----
pg_run_as_server "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w -t 60 start >/dev/null 2>&1 ||
  bail "the database starts again"
out=$("$yoban" evidence export 999999 -o "$work/none.tar.zst" 2>&1)
check "a run that does not exist: exit 1" 1 "$?"
contains "  says so" "run 999999 does not exist" "$out"
check "  no file left" "" "$(ls "$work"/none.tar.zst* 2>/dev/null)"
# a run from before the chain: inserted with the chain's triggers off (as a superuser could)
old_run=$(PGDATABASE=yoban pg_psql -c "ALTER TABLE yoban.runs DISABLE TRIGGER USER" \
  -c "INSERT INTO yoban.runs (runbook, trigger) VALUES ('fix-address', 'manual') RETURNING id" \
  -c "ALTER TABLE yoban.runs ENABLE TRIGGER USER" | grep -E '^[0-9]+$')
out=$("$yoban" evidence export "$old_run" -o "$work/old.tar.zst" 2>&1)
check "a run with no chain entries: exit 1" 1 "$?"
contains "  says so" "run $old_run has no evidence chain entries" "$out"
check "  no file left" "" "$(ls "$work"/old.tar.zst* 2>/dev/null)"
pg_create_login dave >/dev/null 2>&1 || true
sed 's/user=yoband/user=dave/' "$YD_SITE/yoban.yaml" >"$YD_SITE/dave.yaml"
out=$("$yoban" evidence export "$run" -o "$work/dave.tar.zst" --config "$YD_SITE/dave.yaml" 2>&1)
check "a login without a yoban role: exit 1" 1 "$?"
contains "  names the role it needs" "role 'dave' is not a member of yoban_reviewer" "$out"
check "  no file left" "" "$(ls "$work"/dave.tar.zst* 2>/dev/null)"
before=$(sha256sum <"$b")
out=$("$yoban" evidence export "$run" -o "$b" 2>&1)
check "an existing -o FILE: exit 1" 1 "$?"
contains "  says how to replace it" "exists: give --force" "$out"
check "  the file is untouched" "$before" "$(sha256sum <"$b")"
out=$("$yoban" evidence export "$run" -o "$b" --force 2>&1)
check "--force replaces it: exit 0" 0 "$?" || echo "$out" >&2
check "  with a new export (a later exported_at)" 1 "$(status_of cmp -s "$b" "$work/same.tar.zst")"
# on a terminal (script(1) gives it one), the progress: files, bytes, rate
if command -v script >/dev/null; then
  out=$(script -qec "'$yoban' evidence export $run -o '$work/tty.tar.zst'" /dev/null 2>&1)
  contains "export on a terminal: shows its progress" " files, " "$out"
  contains "  with a rate" "/s" "$out"
fi
check "usage: export without -o" 2 "$(status_of "$yoban" evidence export "$run")"
check "usage: verify without FILE" 2 "$(status_of "$yoban" evidence verify)"
out=$("$yoban" evidence verify "$work/nosuch.tar.zst" 2>&1)
check "verify of a missing file: exit 1" 1 "$?"
contains "  names it" "cannot open '$work/nosuch.tar.zst'" "$out"
out=$("$yoban" evidence verify "$YD_SITE/yoban.yaml" 2>&1)
check "verify of a file that is no bundle: exit 1" 1 "$?"
contains "  says it is not zstd" "zstd" "$out"

finish
