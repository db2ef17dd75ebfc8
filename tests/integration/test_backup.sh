#!/usr/bin/env bash
# Backups on the runner, as an operator meets them: four backups leave three generations; backups
# killed at random instants and a backup on a full file system (a small tmpfs) leave every earlier
# generation whole and verifiable and nothing listed in their place; `yoban restore` of
# generation 2 through the runner gives back byte-identical files with their links, modes and
# mtimes; `yoban backups` lists newest first; a `pg_dump -Fc` command source restores with
# pg_restore into a real PostgreSQL.
set -uo pipefail
YB_BIN=${YB_BIN:?YB_BIN must point at the build bin folder}
YB_SOURCE_DIR=${YB_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
export PATH=$YB_BIN:$PATH
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
. "$YB_SOURCE_DIR/tests/integration/lib/assert.sh"
runner=$YB_BIN/yoban-runner
yoban=$YB_BIN/yoban
tmp=$(mktemp -d)
mounted=
cleanup() { [ -n "$mounted" ] && umount "$mounted" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
step() { "$runner" step "$@"; }
gens() { ls -1 "$1" | grep -c '^gen-' ; }
# every entry: name, type, mode, mtime (ns), size, link target, link count, content digest
tree() { (cd "$1" && find . -mindepth 1 -printf '%P %y %m %T@ %s %l %n\n' | sort &&
          find . -type f -exec sha256sum {} + | sort -k2); }

# ---- the source: links, modes, nanosecond mtimes, long and non-ASCII names -------------------
src=$tmp/src
mkdir -p "$src/docs/住民記録" "$src/empty" "$src/deep/$(printf 'd%.0s' {1..120})"
echo "hello" > "$src/docs/a.txt"; chmod 640 "$src/docs/a.txt"
head -c 2000000 /dev/urandom > "$src/big.bin"
printf '帳票' > "$src/docs/住民記録/帳票一覧.csv"
ln -s ../big.bin "$src/docs/link-to-big"
ln "$src/docs/a.txt" "$src/hard-a"
echo deep > "$src/deep/$(printf 'd%.0s' {1..120})/$(printf 'f%.0s' {1..150})"
chmod 4750 "$src/empty"
touch -h -d '2019-05-01 12:34:56.987654321' "$src/docs/link-to-big"
touch -d '2001-02-03 04:05:06.123456789' "$src/big.bin"

cat > "$tmp/yoban.yaml" <<EOF2
state_dir: $tmp/state
inventory: $tmp/inventory.yaml
runbooks: $tmp/runbooks
EOF2
cat > "$tmp/inventory.yaml" <<'EOF2'
hosts:
  fs-local: { transport: local, environment: production }
EOF2
mkdir -p "$tmp/runbooks"
cat > "$tmp/runbooks/share-backup.yaml" <<EOF2
version: 1
name: share-backup
kind: backup
targets: { hosts: [fs-local] }
steps:
  - name: share
    backup: { source: $src, repository: $tmp/repo, generations: 3, compression: 3 }
EOF2

# ---- rotation ---------------------------------------------------------------------------------
for i in 1 2 3 4; do
  echo "version $i" > "$src/version.txt"
  touch -d "2020-01-0$i 00:00:00" "$src/version.txt"
  [ "$i" = 2 ] && tree "$src" > "$tmp/tree-of-2"
  out=$(step backup --spec "{\"repository\":\"$tmp/repo\",\"source\":\"$src\",\"generations\":3}" 2>"$tmp/err")
  rc=$?
  check "backup $i exits 0" 0 "$rc"
done
check "four backups leave three generations" 3 "$(gens "$tmp/repo")"
contains "the fourth backup pruned the first" "pruned 'gen-000001-" "$out"
ev=$(grep '^yoban-evidence ' <<<"$out" | sed 's/^yoban-evidence //')
check "evidence: ok" true "$(python3 -c 'import json,sys; print(str(json.loads(sys.argv[1])["ok"]).lower())' "$ev")"
contains "evidence: the manifest digest" '"manifest_sha256":"' "$ev"
contains "evidence: verified" '"verified":true' "$ev"

# ---- yoban backups / yoban restore through the runner -------------------------------------------
y() { "$yoban" "$@" --config "$tmp/yoban.yaml"; }
list=$(y backups share-backup); rc=$?
check "yoban backups exits 0" 0 "$rc"
contains "yoban backups: three generations" "3 generations" "$list"
first=$(awk '$1=="0"{print $2}' <<<"$list")
contains "yoban backups: newest first" "ok" "$(awk '$1=="0"{print}' <<<"$list")"
json=$(y backups share-backup --format json)
n=$(python3 -c 'import json,sys; d=json.load(sys.stdin); g=d["repositories"][0]["generations"]; print(len(g), g[0]["name"] > g[2]["name"], g[2]["name"].startswith("gen-000002-"))' <<<"$json")
check "yoban backups --format json: 3, newest first, 2 is the second backup" "3 True True" "$n"

y restore share-backup --generation 2 --to "$tmp/restored" >"$tmp/out" 2>"$tmp/err"; rc=$?
check "yoban restore --generation 2 exits 0" 0 "$rc"
tree "$tmp/restored" > "$tmp/tree-restored"
check "generation 2 is byte-identical: files, links, modes, mtimes" "$(cat "$tmp/tree-of-2")" "$(cat "$tmp/tree-restored")"
check "restored: the second version" "version 2" "$(cat "$tmp/restored/version.txt")"
y restore share-backup --generation 2 --to "$tmp/restored" >"$tmp/out" 2>"$tmp/err"; rc=$?
check "restore into a non-empty folder is refused" 1 "$rc"
contains "... and says why" "is not empty" "$(cat "$tmp/err")"
y restore share-backup --generation 3 --to "$tmp/r3" >"$tmp/out" 2>"$tmp/err"; rc=$?
check "restore of a generation that is not there: exit 1" 1 "$rc"
contains "... and says what there is" "it holds 3" "$(cat "$tmp/err")"
job=$(grep -o "job 'restore-[^']*'" "$tmp/err" | head -1 | tr -d "'" | sed 's/^job //')
spec=$(cat "$tmp"/state/runner/jobs/"$job"/spec.json 2>/dev/null)
contains "the restore job stays in the runner's journal with who asked" "YOBAN_REQUESTED_BY" "$spec"

# ---- killed at random instants ------------------------------------------------------------------
head -c 40000000 /dev/urandom > "$src/large.bin"
before=$(ls -1 "$tmp/repo" | grep '^gen-')
for i in 1 2 3 4 5 6; do
  "$runner" step backup --spec "{\"repository\":\"$tmp/repo\",\"source\":\"$src\",\"generations\":3}" >/dev/null 2>&1 &
  pid=$! # the runner itself, not a subshell: the kill must reach the backup
  sleep "0.$((RANDOM % 9))$((RANDOM % 10))"
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  listed=$(step list --spec "{\"repositories\":[{\"path\":\"$tmp/repo\"}],\"format\":\"json\"}" |
           python3 -c 'import json,sys; print(" ".join(g["name"] for g in json.load(sys.stdin)["repositories"][0]["generations"] if g["readable"]))')
  whole=yes
  for g in $listed; do [ -f "$tmp/repo/$g/manifest.json" ] || whole="no: $g"; done
  check "kill $i: every listed generation is whole" yes "$whole"
done
out=$(step verify --spec "{\"repository\":\"$tmp/repo\"}" 2>&1); rc=$?
check "after six kills every listed generation verifies" 0 "$rc"
check_status "after six kills three or more generations remain" 0 test "$(gens "$tmp/repo")" -ge 3
out=$(step backup --spec "{\"repository\":\"$tmp/repo\",\"source\":\"$src\",\"generations\":3}" 2>&1); rc=$?
check "a backup after the kills succeeds" 0 "$rc"
check "... and leaves no leftover" 0 "$(ls -A "$tmp/repo" | grep -c '^\.incoming-\|^\.trash-')"
check "... and three generations" 3 "$(gens "$tmp/repo")"
rm -f "$src/large.bin"

# ---- a full file system -----------------------------------------------------------------------
mkdir -p "$tmp/small"
if mount -t tmpfs -o size=3m yb-backup-test "$tmp/small" 2>/dev/null; then
  mounted=$tmp/small
  small=$tmp/small/repo
  mkdir -p "$tmp/src-small"; head -c 300000 /dev/urandom > "$tmp/src-small/f"
  for i in 1 2; do step backup --spec "{\"repository\":\"$small\",\"source\":\"$tmp/src-small\",\"generations\":3}" >/dev/null 2>&1; done
  check "two small backups fit" 2 "$(gens "$small")"
  head -c 5000000 /dev/urandom > "$tmp/src-small/g"
  out=$(step backup --spec "{\"repository\":\"$small\",\"source\":\"$tmp/src-small\",\"generations\":3}" 2>&1); rc=$?
  check "a backup on a full file system fails" 1 "$rc"
  contains "... saying so" "No space left on device" "$out"
  check "... leaving the two generations" 2 "$(gens "$small")"
  check "... and no leftover" 0 "$(ls -A "$small" | grep -c '^\.incoming-')"
  out=$(step verify --spec "{\"repository\":\"$small\"}" 2>&1); rc=$?
  check "... which both verify" 0 "$rc"
else
  check "a tmpfs can be mounted (the test needs root)" mounted "not mounted"
fi

# ---- a command source: pg_dump -Fc, restored with pg_restore ----------------------------------
. "$YB_SOURCE_DIR/tests/integration/lib/pg.sh"
pg_start >/dev/null
pg_psql -c "CREATE DATABASE resident" >/dev/null
pg_psql -d resident -c "CREATE TABLE residents (id int primary key, name text); INSERT INTO residents SELECT g, '住民' || g FROM generate_series(1, 5000) g" >/dev/null
out=$(step backup --spec "{\"repository\":\"$tmp/dbrepo\",\"command\":\"pg_dump -Fc resident\",\"generations\":3}" 2>&1); rc=$?
check "pg_dump -Fc as a command source" 0 "$rc"
out=$(step restore --spec "{\"repository\":\"$tmp/dbrepo\",\"generation\":0,\"to\":\"$tmp/dbout\"}" 2>&1); rc=$?
check "its restore exits 0" 0 "$rc"
pg_psql -c "CREATE DATABASE resident_copy" >/dev/null
pg_restore -h "$PGHOST" -p "$PGPORT" -U postgres -d resident_copy "$tmp/dbout/dump" 2>"$tmp/err"; rc=$?
check "pg_restore takes the restored dump" 0 "$rc"
check "... and the rows are all there" "5000|住民999" "$(pg_psql -At -d resident_copy -c "SELECT count(*), max(name) FROM residents")"
out=$(step backup --spec "{\"repository\":\"$tmp/dbrepo\",\"command\":\"pg_dump -Fc no_such_db\",\"generations\":3}" 2>&1); rc=$?
check "a failing command fails the backup" 1 "$rc"
check "... and adds no generation" 1 "$(gens "$tmp/dbrepo")"

# ---- yoban restore is recorded in the database when there is one ------------------------------
pg_psql -c "CREATE DATABASE yoban" >/dev/null
cat >> "$tmp/yoban.yaml" <<EOF2
database: "host=$PGHOST port=$PGPORT dbname=yoban user=postgres"
EOF2
check_status "the database is migrated" 0 "$yoban" db migrate --config "$tmp/yoban.yaml"
y restore share-backup --generation 0 --to "$tmp/restored-db" >"$tmp/out" 2>"$tmp/err"; rc=$?
check "a recorded restore exits 0" 0 "$rc"
contains "... and says it is recorded" "the restore is recorded in the database" "$(cat "$tmp/err")"
row=$(pg_psql -At -d yoban -c "SELECT event, runbook, step, host, ok, requested_by, destination FROM yoban.backup_evidence")
check "... the evidence row: what, where, by whom, how it ended" "restore|share-backup|share|fs-local|t|postgres|$tmp/restored-db" "$row"
check "... and an audit row" 1 "$(pg_psql -At -d yoban -c "SELECT count(*) FROM yoban.audit WHERE action = 'restore'")"
y restore share-backup --generation 0 --to "$tmp/restored-db" >"$tmp/out" 2>"$tmp/err"; rc=$?
check "a refused restore is recorded as failed" "f|t" "$(pg_psql -At -d yoban -c "SELECT ok, error IS NOT NULL FROM yoban.backup_evidence ORDER BY id DESC LIMIT 1")"
check_status "evidence rows are append-only (DELETE refused)" 1 pg_psql -d yoban -c "DELETE FROM yoban.backup_evidence"

finish
