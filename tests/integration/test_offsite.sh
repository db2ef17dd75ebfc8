#!/usr/bin/env bash
# Off-site copies against a real sshd (SFTP): the newest verified generation is encrypted, copied
# and read back; `keep` copies stay; `yoban offsite-restore` gives back the tree; a tampered,
# truncated, reordered, re-headed copy or a wrong key is refused before anything is written; a
# connection cut mid-upload resumes where it stopped.
set -uo pipefail
YB_BIN=${YB_BIN:?YB_BIN must point at the build bin folder}
YB_SOURCE_DIR=${YB_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
. "$YB_SOURCE_DIR/tests/integration/lib/assert.sh"
runner=$YB_BIN/yoban-runner
yoban=$YB_BIN/yoban
. "$YB_SOURCE_DIR/tests/integration/lib/sshd.sh"
sshd_start || exit 1
# the SFTP subsystem, run through the forced command like any other remote command
echo "Subsystem sftp /usr/lib/openssh/sftp-server" >> "$SSHD_DIR/sshd_config"
kill -HUP "$SSHD_PID"; sleep 0.5
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; sshd_stop' EXIT
tree() { (cd "$1" && find . -mindepth 1 -printf '%P %y %m %T@ %s %l %n\n' | sort &&
          find . -type f -exec sha256sum {} + | sort -k2); }

src=$tmp/src vault=$tmp/vault
mkdir -p "$src/d" "$vault"
head -c 2500000 /dev/urandom > "$src/d/random.bin"
echo "住民記録" > "$src/d/名簿.txt"; ln -s d/名簿.txt "$src/link"
backup() { "$runner" step backup --spec "{\"repository\":\"$tmp/repo\",\"source\":\"$src\",\"generations\":3}" >/dev/null 2>&1; }
offsite() { # [keep] [extra json]
  "$runner" step offsite --spec "{\"repository\":\"$tmp/repo\",\"name\":\"share\",\"public_key\":\"$tmp/vault.key.pub\",\"keep\":${1:-2},${2:-}\"destination\":{\"host\":\"vault\",\"address\":\"127.0.0.1\",\"port\":$SSHD_PORT,\"user\":\"$SSHD_USER\",\"host_key\":\"$SSHD_FINGERPRINT\",\"identity\":\"$SSHD_KEY\",\"path\":\"$vault\"}}"
}
copies() { ls -1 "$vault" | grep -c '^share-gen-.*\.yoban-offsite$'; }
# another step's copy and someone's file in the same folder: never pruned
echo other > "$vault/share-2-gen-000001-20200101T000000Z.yoban-offsite"
echo mine > "$vault/notes.txt"

"$yoban" offsite-restore --new-key "$tmp/vault.key" >/dev/null; rc=$?
check "a recipient key pair" 0 "$rc"
check "the secret key is private" 600 "$(stat -c %a "$tmp/vault.key")"
"$yoban" offsite-restore --new-key "$tmp/vault.key" >/dev/null 2>&1; rc=$?
check "a key is never overwritten" 1 "$rc"

"$runner" step backup --spec "{\"repository\":\"$tmp/repo\",\"source\":\"$src\",\"verify\":false}" >/dev/null 2>&1
out=$(offsite 2 2>&1); rc=$?
check "an unverified generation is not sent" 1 "$rc"
contains "... saying so" "no verified generation" "$out"

for i in 1 2 3; do
  echo "month $i" > "$src/month.txt"; backup
  out=$(offsite 2 2>&1); rc=$?
  check "monthly copy $i" 0 "$rc"
done
contains "the copy was read back" '"remote_sha256":"' "$out"
ev=$(grep '^yoban-evidence ' <<<"$out")
sent=$(sed 's/.*"sha256":"\([0-9a-f]*\)".*"remote_sha256".*/\1/' <<<"$ev")
remote=$(sed 's/.*"remote_sha256":"\([0-9a-f]*\)".*/\1/' <<<"$ev")
check "... and its remote digest equals what was sent" "$sent" "$remote"
check "keep 2: two copies remain" 2 "$(copies)"
contains "the third copy pruned the first" "pruned 'share-gen-000002-" "$out"
check "no temporary file is left" 0 "$(ls -A "$vault" | grep -c '\.part$')"
check "another step's copy and other files are left alone" "other mine" "$(cat "$vault/share-2-gen-000001-20200101T000000Z.yoban-offsite" "$vault/notes.txt" | tr '\n' ' ' | sed 's/ $//')"
out=$(offsite 2 2>&1); rc=$?
check "the same generation again: refused, nothing sent" 1 "$rc"
contains "... saying it is already there" "already there" "$out"
newest=$(ls -1 "$vault"/share-gen-*.yoban-offsite | tail -1)
check_status "the copy holds no clear text" 1 grep -aq "month 3" "$newest"

"$yoban" offsite-restore "$newest" --key "$tmp/vault.key" --to "$tmp/restored" >"$tmp/out" 2>&1; rc=$?
check "yoban offsite-restore exits 0" 0 "$rc"
check "the restored tree equals the source" "$(tree "$src")" "$(tree "$tmp/restored")"

refused() { # label file expect
  rm -rf "$tmp/r"
  out=$("$yoban" offsite-restore "$2" --key "${KEY:-$tmp/vault.key}" --to "$tmp/r" 2>&1); rc=$?
  check "$1: refused" 1 "$rc"
  contains "$1: says why" "$3" "$out"
  check "$1: nothing written" "" "$(ls -A "$tmp/r" 2>/dev/null)"
}
size=$(stat -c %s "$newest")
cp "$newest" "$tmp/tampered"; printf 'X' | dd of="$tmp/tampered" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
refused "a flipped byte" "$tmp/tampered" "does not authenticate"
head -c $((size - 22)) "$newest" > "$tmp/cut-final"     # exactly the final record: 4 + 1 + 17
refused "the final record cut off" "$tmp/cut-final" "ends before its final record"
head -c $((size - 1000)) "$newest" > "$tmp/cut-mid"
refused "truncated inside a record" "$tmp/cut-mid" "truncated"
{ cat "$newest"; printf 'trailing'; } > "$tmp/trailing"
refused "bytes after the end" "$tmp/trailing" "after its final record"
python3 - "$newest" "$tmp/reordered" <<'PY'
import struct, sys
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('>I', b[12:16])[0]
at = 16 + n + 80 + 24
recs = []
while at < len(b):
    c = struct.unpack('>I', b[at:at+4])[0]; recs.append(b[at:at+4+c]); at += 4 + c
assert len(recs) >= 4, len(recs)
recs[1], recs[2] = recs[2], recs[1]          # two data records swapped
open(sys.argv[2], 'wb').write(b[:16+n+80+24] + b''.join(recs))
PY
refused "two records swapped" "$tmp/reordered" "does not authenticate"
python3 - "$newest" "$tmp/reheaded" <<'PY'
import sys
b = bytearray(open(sys.argv[1], 'rb').read())
i = b.index(b'gen-0000'); b[i+9] = ord('9') if b[i+9] != ord('9') else ord('8')
open(sys.argv[2], 'wb').write(bytes(b))
PY
refused "the header edited" "$tmp/reheaded" "does not authenticate"
"$yoban" offsite-restore --new-key "$tmp/other.key" >/dev/null
KEY=$tmp/other.key refused "another recipient's key" "$newest" "does not open"

# ---- a connection cut mid-upload resumes ----------------------------------------------------
head -c 6000000 /dev/urandom > "$src/d/more.bin"; backup
offsite 2 '"rate_limit_kbps":2000,' > "$tmp/out" 2>"$tmp/err" &
pid=$!
sleep 1.2
sshd_kill_connections
wait "$pid"; rc=$?
check "the upload cut after 1.2 s finished" 0 "$rc"
contains "... after reconnecting" "reconnecting" "$(cat "$tmp/err")"
resumed=$(grep -o '"resumed":[0-9]*' "$tmp/out" | cut -d: -f2)
check_status "... resumed (${resumed:-0} times)" 0 test "${resumed:-0}" -ge 1
sent=$(grep -o '"bytes":[0-9]*' "$tmp/out" | cut -d: -f2)
newest=$(ls -1 "$vault"/share-gen-*.yoban-offsite | tail -1)
check "... the file on the vault has every byte once" "$sent" "$(stat -c %s "$newest")"
rm -rf "$tmp/restored2"
"$yoban" offsite-restore "$newest" --key "$tmp/vault.key" --to "$tmp/restored2" >/dev/null 2>&1; rc=$?
check "... and restores" 0 "$rc"
check "... to the source tree" "$(tree "$src")" "$(tree "$tmp/restored2")"
check "keep 2 after the resumed copy" 2 "$(copies)"

finish
