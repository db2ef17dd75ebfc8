#!/usr/bin/env bash
# The backup benchmark (issue 10 §6) in one go: builds Release in build-bench/, makes a mixed tree
# (many small files and a few large ones, half compressible), and in the same run measures
#   backup   yoban-runner step backup (verification included)  vs  tar -cf - DIR | zstd -T0 -3
#   restore  yoban-runner step restore (manifest checks)        vs  zstd -d | tar -x
#   offsite  yoban-runner step offsite to a real sshd (SFTP)    vs  scp of the same data file
#            (upload and read-back verification reported apart)
# with the runner's peak memory (max RSS, /usr/bin/time or getrusage through bash's times).
# Paste its output, the date and this command into docs/benchmarks.md.
#   tests/bench/run_backup.sh [SIZE_MIB]     (default 1024)
set -euo pipefail
size_mib=${1:-1024}
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
./deploy/install-deps.sh
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DYB_SANITIZE=OFF -DYB_FUZZ=OFF >/dev/null
cmake --build build-bench -j2 --target yoban-runner >/dev/null
export YB_BIN=$here/build-bench/bin
runner=$YB_BIN/yoban-runner
work=$(mktemp -d "${TMPDIR:-/var/tmp}/yb-bench-backup.XXXXXX")
. tests/integration/lib/sshd.sh
sshd_start >/dev/null
echo "Subsystem sftp /usr/lib/openssh/sftp-server" >> "$SSHD_DIR/sshd_config"
kill -HUP "$SSHD_PID"; sleep 0.5
trap 'sshd_stop; rm -rf "$work"' EXIT

# ---- the tree: 40 % in small files (1-64 KiB), 60 % in four large files; half of the bytes
# random (incompressible), half text-like (compressible) ----------------------------------------
python3 - "$work/tree" "$size_mib" <<'PY'
import os, random, sys
root, mib = sys.argv[1], int(sys.argv[2])
total = mib << 20
rnd = random.Random(42)
words = [bytes(rnd.choice(b'abcdefghijklmnopqrstuvwxyz') for _ in range(rnd.randint(2, 9))) for _ in range(4000)]
def text(n):
    out = bytearray()
    while len(out) < n:
        out += b' '.join(rnd.choice(words) for _ in range(64)) + b'\n'
    return bytes(out[:n])
def data(n):
    return os.urandom(n) if rnd.random() < 0.5 else text(n)
small, made, i = int(total * 0.4), 0, 0
while made < small:
    d = os.path.join(root, 'small', '%03d' % (i // 500))
    os.makedirs(d, exist_ok=True)
    n = rnd.randint(1024, 65536)
    open(os.path.join(d, 'f%06d.dat' % i), 'wb').write(data(n))
    made += n; i += 1
big = (total - made) // 4
os.makedirs(os.path.join(root, 'large'), exist_ok=True)
for j in range(4):
    with open(os.path.join(root, 'large', 'big%d.bin' % j), 'wb') as f:
        left = big
        while left:
            n = min(left, 8 << 20)
            f.write(os.urandom(n) if j % 2 == 0 else text(n))
            left -= n
print('# tree: %d MiB, %d small files, 4 large files' % (mib, i))
PY
sync
tree=$work/tree
bytes=$(du -sb "$tree" | cut -f1)
mbs() { python3 -c "print('%.1f' % ($bytes / 1048576 / $1))"; }
now() { date +%s.%N; }
secs() { python3 -c "print('%.2f' % ($2 - $1))"; }
rss() { # runs a command under GNU time; its max RSS (MiB) goes to $work/rss.mib
  /usr/bin/time -f '%M' -o "$work/rss" "$@"; local rc=$?
  echo "$(( $(tail -1 "$work/rss") / 1024 ))" > "$work/rss.mib"; return $rc
}

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -sr), zstd $(zstd -V | grep -o 'v[0-9.]*'), $(ssh -V 2>&1)"
echo "# tests/bench/run_backup.sh $size_mib"
cat "$tree"/large/* >/dev/null; find "$tree" -type f -exec cat {} + >/dev/null   # warm: both read from the cache

t0=$(now); tar -C "$tree" -cf - . | zstd -T0 -3 -q -o "$work/base.tar.zst"; t1=$(now)
base=$(secs "$t0" "$t1")
t0=$(now)
rss "$runner" step backup --spec "{\"repository\":\"$work/repo\",\"source\":\"$tree\",\"generations\":3,\"compression\":3}" >"$work/ev" 2>/dev/null; mem=$(cat "$work/rss.mib")
t1=$(now); ours=$(secs "$t0" "$t1")
grep -q '"ok":true' "$work/ev" || { echo "backup failed: $(cat "$work/ev")"; exit 1; }
echo "backup   tar|zstd -T0 -3: ${base} s, $(mbs "$base") MiB/s; yoban (verified): ${ours} s, $(mbs "$ours") MiB/s; ratio $(python3 -c "print('%.2f' % ($base / $ours))"); runner max RSS ${mem} MiB"
echo "         stored: baseline $(stat -c %s "$work/base.tar.zst") bytes, yoban $(grep -o '"data_bytes":[0-9]*' "$work/ev" | cut -d: -f2) bytes"

mkdir "$work/r1"
t0=$(now); zstd -d -q -c "$work/base.tar.zst" | tar -x -C "$work/r1"; t1=$(now); base=$(secs "$t0" "$t1")
t0=$(now)
rss "$runner" step restore --spec "{\"repository\":\"$work/repo\",\"generation\":0,\"to\":\"$work/r2\"}" >"$work/ev" 2>/dev/null; mem=$(cat "$work/rss.mib")
t1=$(now); ours=$(secs "$t0" "$t1")
grep -q '"ok":true' "$work/ev" || { echo "restore failed: $(cat "$work/ev")"; exit 1; }
echo "restore  zstd -d|tar -x: ${base} s, $(mbs "$base") MiB/s; yoban (checked): ${ours} s, $(mbs "$ours") MiB/s; ratio $(python3 -c "print('%.2f' % ($base / $ours))"); runner max RSS ${mem} MiB"
rm -rf "$work/r1" "$work/r2"

"$runner" step offsite-keygen --spec "{\"secret\":\"$work/k\"}" >/dev/null
mkdir -p "$work/vault" "$work/scp"
data=$(ls "$work"/repo/gen-*/data.tar.zst)
dbytes=$(stat -c %s "$data")
t0=$(now); scp -q -P "$SSHD_PORT" -i "$SSHD_KEY" -o UserKnownHostsFile="$SSHD_KNOWN_HOSTS" -o BatchMode=yes "$data" "$SSHD_USER@127.0.0.1:$work/scp/x"; t1=$(now)
base=$(secs "$t0" "$t1")
rss "$runner" step offsite --spec "{\"repository\":\"$work/repo\",\"name\":\"bench\",\"public_key\":\"$work/k.pub\",\"keep\":2,\"destination\":{\"address\":\"127.0.0.1\",\"port\":$SSHD_PORT,\"user\":\"$SSHD_USER\",\"host_key\":\"$SSHD_FINGERPRINT\",\"identity\":\"$SSHD_KEY\",\"path\":\"$work/vault\"}}" >"$work/ev" 2>/dev/null; mem=$(cat "$work/rss.mib")
grep -q '"ok":true' "$work/ev" || { echo "offsite failed: $(cat "$work/ev")"; exit 1; }
up=$(grep -o '"upload_ms":[0-9]*' "$work/ev" | cut -d: -f2); ver=$(grep -o '"verify_ms":[0-9]*' "$work/ev" | cut -d: -f2)
python3 - "$dbytes" "$base" "$up" "$ver" "$mem" <<'PY'
import sys
b, base, up, ver, mem = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]) / 1000, int(sys.argv[4]) / 1000, sys.argv[5]
m = b / 1048576
print("offsite  scp: %.2f s, %.1f MiB/s; yoban upload (encrypting): %.2f s, %.1f MiB/s; ratio %.2f; "
      "read-back verification apart: %.2f s, %.1f MiB/s; runner max RSS %s MiB" % (base, m / base, up, m / up, base / up, ver, m / ver, mem))
PY
