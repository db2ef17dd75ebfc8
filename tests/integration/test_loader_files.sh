#!/usr/bin/env bash
# What the loader reads cannot block it, and secrets come only from the site's secrets folder.
# A FIFO (or anything but a regular file) where a runbook, an inventory, a procedure document or
# a secret file should be makes `yoban validate` fail at once, naming the file and the rule
# (every command here runs under `timeout 10`: a hang is a failure, exit 124).
set -uo pipefail
yoban="${YB_BIN:?}/yoban"
cd "${YB_SOURCE_DIR:?}"
unset YOBAN_CONFIG
fails=0
passes=0
ok() { echo "ok   $1"; passes=$((passes+1)); }
bad() { echo "FAIL $1"; fails=$((fails+1)); }
check() { # name expected actual
  if [ "$2" == "$3" ]; then ok "$1"; else
    bad "$1"; diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") | sed 's/^/  /'; fi
}
contains() { # name needle haystack
  if grep -qF -- "$2" <<<"$3"; then ok "$1"; else
    bad "$1"; echo "  missing: $2"; printf '%s\n' "$3" | sed 's/^/  | /' | head -30; fi
}
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

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
