#!/usr/bin/env bash
# Backups through yoband, as the night runs them: a `backup` runbook triggered four times keeps
# three generations and records four backups and one prune in yoban.backup_evidence; a `restore`
# step (a restore drill) brings generation 2 back; an `offsite` step sends the newest generation,
# encrypted, to an inventory host over SFTP (a real sshd, its host key pinned) and records the
# remote digest; a backup whose command fails is recorded as a failed event.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/assert.sh"
. "$here/lib/pg.sh"
. "$here/lib/daemon.sh"
. "$here/lib/sshd.sh"

yd_setup || bail "yd_setup"
sshd_start >/dev/null || bail "sshd_start"
# one exit path for all three: yoband, sshd, then PostgreSQL (sshd_start took over the EXIT trap)
stop_all() { yd_stop_all; sshd_stop; }
PG_ON_EXIT=stop_all
trap pg__on_exit EXIT
echo "Subsystem sftp /usr/lib/openssh/sftp-server" >> "$SSHD_DIR/sshd_config"
kill -HUP "$SSHD_PID"; sleep 0.5
work=$PG_BASE/work
mkdir -p "$work/src/docs" "$work/vault" "$work/home/.ssh"
cp "$SSHD_KEY" "$work/home/.ssh/id_ed25519"   # the runner's own key, as on a file server
echo "住民記録" > "$work/src/docs/a.txt"; head -c 300000 /dev/urandom > "$work/src/b.bin"
cat >> "$YD_SITE/inventory.yaml" <<YAML
  vault: { address: 127.0.0.1, port: $SSHD_PORT, user: $SSHD_USER, environment: production, host_key: "$SSHD_FINGERPRINT" }
YAML
"$YB_BIN/yoban-runner" step offsite-keygen --spec "{\"secret\":\"$work/vault.key\"}" >/dev/null

yd_runbook fs-backup "targets: { hosts: [local] }
steps:
  - name: share
    backup: { source: $work/src, repository: $work/repo, generations: 3 }"
yd_runbook fs-drill "targets: { hosts: [local] }
steps:
  - name: drill
    restore: { repository: $work/repo, generation: 2, to: $work/drill }"
yd_runbook fs-offsite "targets: { hosts: [local] }
steps:
  - name: vault
    offsite:
      repository: $work/repo
      destination: { host: vault, path: $work/vault }
      key_file: $work/vault.key.pub
      keep: 1
    env: { HOME: $work/home }"
yd_runbook db-backup "targets: { hosts: [local] }
steps:
  - name: dump
    backup: { command: \"echo partial; exit 3\", repository: $work/dbrepo }"

mkdir -p "$PG_BASE/cli"
printf 'database: "host=%s dbname=yoban"\n' "$PGHOST" >"$PG_BASE/cli/yoban.yaml"
cli() { PGUSER=alice "$YB_BIN/yoban" "$@" --config "$PG_BASE/cli/yoban.yaml"; }
yd_start
for _ in $(seq 100); do cli status >/dev/null 2>&1 && break; sleep 0.1; done

run_it() { # RUNBOOK -> the run's final state
  local out run
  out=$(cli trigger "$1" --wait --timeout 30s 2>&1)
  run=$(sed -n 's/^run \([0-9]*\).*/\1/p' <<<"$out")
  yd_wait_sql "SELECT state IN ('succeeded', 'failed', 'timed_out', 'cancelled', 'lost') FROM yoban.runs WHERE id = ${run:-0}" t 60 >/dev/null
  yd_sql "SELECT state FROM yoban.runs WHERE id = ${run:-0}"
}

for i in 1 2 3 4; do
  echo "night $i" > "$work/src/night.txt"
  [ "$i" = 2 ] && (cd "$work/src" && find . -type f -exec sha256sum {} + | sort -k2) > "$work/sums-2"
  check "backup run $i succeeded" succeeded "$(run_it fs-backup)"
done
check "four nights leave three generations" 3 "$(ls "$work/repo" | grep -c '^gen-')"
check "evidence: four backups, all verified" "4|4" \
  "$(yd_sql "SELECT count(*), count(verified_at) FROM yoban.backup_evidence WHERE event = 'backup' AND ok")"
check "evidence: the fourth pruned the first" "gen-000001" \
  "$(yd_sql "SELECT left(generation, 10) FROM yoban.backup_evidence WHERE event = 'prune'")"
check "evidence: the manifest digest is the one on disk" \
  "$(sha256sum "$(ls -d "$work"/repo/gen-* | tail -1)/manifest.json" | cut -d' ' -f1)" \
  "$(yd_sql "SELECT manifest_sha256 FROM yoban.backup_evidence WHERE event = 'backup' ORDER BY id DESC LIMIT 1")"
check "evidence: with the run, the job, the runbook, the step, the host" "t|fs-backup|share|local" \
  "$(yd_sql "SELECT run_id IS NOT NULL AND job_id IS NOT NULL, runbook, step, host FROM yoban.backup_evidence ORDER BY id DESC LIMIT 1")"

check "the restore drill succeeded" succeeded "$(run_it fs-drill)"
check "the drill brought generation 2 back" "$(cat "$work/sums-2")" \
  "$( (cd "$work/drill" && find . -type f -exec sha256sum {} + | sort -k2) )"
check "evidence: the restore, where to" "t|$work/drill" \
  "$(yd_sql "SELECT ok, destination FROM yoban.backup_evidence WHERE event = 'restore'")"

check "the off-site copy succeeded" succeeded "$(run_it fs-offsite)"
copy=$(ls "$work"/vault/*.yoban-offsite 2>/dev/null | head -1)
check_status "the copy is on the vault" 0 test -s "$copy"
check "evidence: the remote digest is the copy's" "$(sha256sum "$copy" | cut -d' ' -f1)" \
  "$(yd_sql "SELECT remote_sha256 FROM yoban.backup_evidence WHERE event = 'offsite'")"
"$YB_BIN/yoban" offsite-restore "$copy" --key "$work/vault.key" --to "$work/from-vault" >/dev/null 2>&1
check "the copy restores" "night 4" "$(cat "$work/from-vault/night.txt" 2>/dev/null)"
echo "night 5" > "$work/src/night.txt"
check "a fifth backup" succeeded "$(run_it fs-backup)"
check "a second copy" succeeded "$(run_it fs-offsite)"
check "keep 1: one copy on the vault" 1 "$(ls "$work/vault" | grep -c '\.yoban-offsite$')"
check "evidence: the first copy pruned" 1 \
  "$(yd_sql "SELECT count(*) FROM yoban.backup_evidence WHERE event = 'prune' AND destination LIKE 'fs-offsite-vault-gen-%'")"

check "a backup whose command fails fails" failed "$(run_it db-backup)"
check "evidence: a failed backup, with the reason" "f|t" \
  "$(yd_sql "SELECT ok, error LIKE '%exited 3%' FROM yoban.backup_evidence WHERE runbook = 'db-backup'")"
check "no generation from it" 0 "$(ls "$work/dbrepo" 2>/dev/null | grep -c '^gen-')"
finish
