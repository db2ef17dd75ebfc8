#!/usr/bin/env bash
# What the loader reads cannot block it, and secrets come only from the site's secrets folder.
# A FIFO (or anything but a regular file) where a runbook, an inventory, a procedure document or
# a secret file should be makes `yoban validate` fail at once, naming the file and the rule
# (every command here runs under `timeout 10`: a hang is a failure, exit 124).
set -uo pipefail
yoban="${YB_BIN:?}/yoban"
. "${YB_SOURCE_DIR:?}/tests/integration/lib/assert.sh"
cd "${YB_SOURCE_DIR:?}" || bail "cd to the source folder"
unset YOBAN_CONFIG
validate() { timeout 10 "$yoban" validate "$@" 2>&1; }

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
site=$tmp/site
mkdir -p "$site/runbooks/procedures"
cat >"$site/yoban.yaml" <<'YAML'
runbooks: runbooks
YAML
cat >"$site/inventory.yaml" <<'YAML'
hosts:
  local: { transport: local, environment: production }
YAML
cat >"$site/runbooks/ok.yaml" <<'YAML'
version: 1
name: ok
kind: batch
targets: { hosts: [local] }
steps:
  - { name: s, run: "true" }
YAML
out=$(validate --config "$site/yoban.yaml"); rc=$?
check "the plain site validates" 0 "$rc"

# ---- a runbook that is a FIFO ----------------------------------------------------------------
mkfifo "$site/runbooks/fifo.yaml"
out=$(validate --config "$site/yoban.yaml"); rc=$?
check "a FIFO among the runbooks: exit 1, at once" 1 "$rc"
contains "  named, with the rule" "fifo.yaml: error: not a regular file or folder" "$out"
out=$(validate --config "$site/yoban.yaml" "$site/runbooks/fifo.yaml"); rc=$?
check "a FIFO named as the runbook: exit 1, at once" 1 "$rc"
out=$(timeout 10 "$yoban" plan --config "$site/yoban.yaml" "$site/runbooks/fifo.yaml" 2>&1); rc=$?
check "plan of a FIFO: exit 1, at once" 1 "$rc"
rm "$site/runbooks/fifo.yaml"

# ---- a procedure document that is a FIFO -----------------------------------------------------
mkfifo "$site/runbooks/procedures/INC-1.md"
cat >"$site/runbooks/patch.yaml" <<'YAML'
version: 1
name: patch
kind: data-patch
approval: { approvers: 2, procedure: procedures/INC-1.md }
targets: { hosts: [local] }
steps:
  - { name: s, sql: { dsn: "service=x", patch: "UPDATE t SET a = 1" } }
YAML
out=$(validate --config "$site/yoban.yaml"); rc=$?
check "a FIFO as the procedure document: exit 1, at once" 1 "$rc"
contains "  named, with the rule" \
  "patch.yaml:4:38: error: procedure document 'procedures/INC-1.md' cannot be read ('$site/runbooks/procedures/INC-1.md' is a FIFO, not a regular file: Yoban reads only regular files)" "$out"
rm "$site/runbooks/patch.yaml" "$site/runbooks/procedures/INC-1.md"

# ---- an inventory that is a FIFO -------------------------------------------------------------
mv "$site/inventory.yaml" "$tmp/inventory.yaml"
mkfifo "$site/inventory.yaml"
out=$(validate --config "$site/yoban.yaml"); rc=$?
check "a FIFO as the inventory: exit 1, at once (not skipped)" 1 "$rc"
contains "  named, with the rule" "is a FIFO, not a regular file: Yoban reads only regular files" "$out"
rm "$site/inventory.yaml"; mv "$tmp/inventory.yaml" "$site/inventory.yaml"

# ---- secrets: only from the site's secrets folder, by its rule --------------------------------
mkdir -m 700 "$site/secrets" "$tmp/elsewhere"
printf 'secrets_dir: secrets\nrunbooks: runbooks\n' >"$site/yoban.yaml"
printf 's3cret\n' >"$site/secrets/db.pass"; chmod 600 "$site/secrets/db.pass"
printf 'other\n' >"$tmp/elsewhere/x.pass"; chmod 600 "$tmp/elsewhere/x.pass"
secret_case() { # name value -> validate output (exit status in $rc)
  cat >"$site/runbooks/sec.yaml" <<YAML
version: 1
name: sec
kind: batch
targets: { hosts: [local] }
steps:
  - name: s
    run: "true"
    secrets: { DB_PASSWORD: $1 }
YAML
  out=$(validate --config "$site/yoban.yaml"); rc=$?
}
secret_case db.pass
check "a secret relative to the secrets folder: valid" 0 "$rc"
secret_case "$site/secrets/db.pass"
check "a secret named absolutely inside the folder: valid" 0 "$rc"
plan=$(timeout 10 "$yoban" plan --config "$site/yoban.yaml" "$site/runbooks/sec.yaml" 2>&1)
contains "plan shows the resolved file" "secret DB_PASSWORD=<content of $site/secrets/db.pass" "$plan"

secret_case /etc/shadow
check "/etc/shadow as a secret: exit 1" 1 "$rc"
contains "  named, with the rule" "sec.yaml:8:29: error: secret file '/etc/shadow' is outside the secrets folder '$site/secrets': secrets are read only from there (yoban.yaml: secrets_dir)" "$out"
secret_case ../inventory.yaml
check "'..' in a secret: exit 1" 1 "$rc"
contains "  named, with the rule" "error: secret file '../inventory.yaml' must not contain '..': name a file inside the secrets folder '$site/secrets'" "$out"
ln -s "$tmp/elsewhere/x.pass" "$site/secrets/link.pass"
secret_case link.pass
check "a symbolic link out of the folder: exit 1" 1 "$rc"
contains "  named, with the rule" "error: secret file '$site/secrets/link.pass' leads outside the secrets folder '$site/secrets' (through a symbolic link, to '$tmp/elsewhere/x.pass')" "$out"
ln -s db.pass "$site/secrets/alias.pass"
secret_case alias.pass
check "a symbolic link inside the folder: valid" 0 "$rc"
mkfifo -m 600 "$site/secrets/fifo.pass"
secret_case fifo.pass
check "a FIFO as a secret: exit 1, at once" 1 "$rc"
contains "  named, with the rule" "error: secret file '$site/secrets/fifo.pass' is refused: '$site/secrets/fifo.pass' is a FIFO, not a regular file: Yoban reads only regular files" "$out"
printf 'x\n' >"$site/secrets/open.pass"; chmod 644 "$site/secrets/open.pass"
secret_case open.pass
check "a secret others can read: exit 1" 1 "$rc"
contains "  named, with the rule" "is refused: '$site/secrets/open.pass' has mode 0644: a private file must give group and others no access (chmod 600)" "$out"
chmod 640 "$site/secrets/open.pass"
secret_case open.pass
check "a secret its group can read: exit 1" 1 "$rc"
if [ "$(id -u)" = 0 ] && getent passwd nobody >/dev/null; then
  printf 'x\n' >"$site/secrets/theirs.pass"; chmod 600 "$site/secrets/theirs.pass"
  chown nobody "$site/secrets/theirs.pass"
  secret_case theirs.pass
  check "a secret owned by another user: exit 1" 1 "$rc"
  contains "  named, with the rule" "is refused: '$site/secrets/theirs.pass' is owned by uid $(id -u nobody): a private file must be owned by root or by the user reading it (uid 0)" "$out"
else
  echo "skip a secret owned by another user (needs root)"
fi
head -c 5000 /dev/zero | tr '\0' x >"$site/secrets/big.pass"; chmod 600 "$site/secrets/big.pass"
secret_case big.pass
check "a secret over 4096 bytes: exit 1" 1 "$rc"
contains "  named" "'$site/secrets/big.pass' is larger than 4096 bytes" "$out"
secret_case not-yet.pass
check "a secret not installed yet: valid (yoband checks it when it reads it)" 0 "$rc"
printf 'runbooks: runbooks\n' >"$site/yoban.yaml"
secret_case "$site/secrets/db.pass"
check "no secrets_dir: /etc/yoban/secrets, and a file elsewhere is refused" 1 "$rc"
contains "  named, with the default folder" "secret file '$site/secrets/db.pass' is outside the secrets folder '/etc/yoban/secrets'" "$out"
rm "$site/runbooks/sec.yaml"

# ---- what the loader echoes, and --config that is not a file ---------------------------------
cat >"$tmp/evil.yaml" <<'YAML'
version: 1
name: evil
kind: batch
targets: { hosts: [local] }
steps:
  - { name: s, run: x }
"clear\e[2J\e]0;owned\a": 1
YAML
out=$(validate --config "$site/yoban.yaml" "$tmp/evil.yaml"); rc=$?
check "a key with terminal escapes: exit 1" 1 "$rc"
check "  no control character reaches the terminal" 0 "$(tr -d '\n' <<<"$out" | LC_ALL=C grep -c '[[:cntrl:]]')"
contains "  shown escaped" "error: unknown key 'clear\x1b[2J\x1b]0;owned\x07'" "$out"
{ printf 'version: 1\nname: cut\nkind: batch\ntargets: { hosts: [local] }\nsteps:\n  - { name: s, run: x }\n'
  for _ in $(seq 40); do printf '夜'; done; printf ': 1\n'; } >"$tmp/cut.yaml"
json=$(timeout 10 "$yoban" validate --format json --config "$site/yoban.yaml" "$tmp/cut.yaml" 2>/dev/null); rc=$?
check "a long key cut inside a character: --format json exits 1 (no abort)" 1 "$rc"
check_status "  and its JSON parses" 0 python3 -c 'import json,sys; json.load(sys.stdin)' <<<"$json"

out=$(timeout 10 "$yoban" validate --config /dev/null "$site/runbooks" 2>&1); rc=$?
check "--config /dev/null: usage error (exit 2)" 2 "$rc"
contains "  says what it is" "config file '/dev/null' is a character device, not a regular file: give the path of a yoban.yaml" "$out"
lacks "  not 'does not exist'" 'does not exist' "$out"
out=$(YOBAN_CONFIG=$site timeout 10 "$yoban" validate "$site/runbooks" 2>&1); rc=$?
check "YOBAN_CONFIG naming a folder: exit 2" 2 "$rc"
contains "  says so" "config file '$site' (from \$YOBAN_CONFIG) is a folder, not a regular file" "$out"
out=$(timeout 10 "$yoban" validate --config "$tmp/nothing.yaml" "$site/runbooks" 2>&1); rc=$?
contains "a missing config still says it does not exist" "config file '$tmp/nothing.yaml' does not exist" "$out"
mkfifo "$tmp/fifo-config.yaml"
out=$(timeout 10 "$yoban" validate --config "$tmp/fifo-config.yaml" "$site/runbooks" 2>&1); rc=$?
check "a FIFO as --config: exit 2, at once" 2 "$rc"
contains "  says it is a FIFO" "is a FIFO, not a regular file" "$out"

finish
