#!/usr/bin/env bash
# The "Runner over SSH" benchmark in one go: builds Release in build-bench/, starts a real sshd
# on loopback (tests/integration/lib/sshd.sh, forced command = the built yoban-runner), and runs
# bench_runner against it with every baseline in the same run. Paste its output, the date and
# this command into docs/benchmarks.md.
#   tests/bench/run_runner.sh [--jobs 2000] [--ssh-jobs 200] [--window 32]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
./deploy/install-deps.sh
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DYB_SANITIZE=OFF -DYB_FUZZ=OFF >/dev/null
cmake --build build-bench -j2 --target yoban-runner bench_runner >/dev/null

export YB_BIN=$here/build-bench/bin
# shellcheck source=../integration/lib/sshd.sh
. tests/integration/lib/sshd.sh
sshd_start
state=$(mktemp -d)
trap 'sshd_stop; rm -rf "$state"' EXIT

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -sr), $(ssh -V 2>&1)"
echo "# tests/bench/run_runner.sh $*"
build-bench/bench/bench_runner --port "$SSHD_PORT" --user "$SSHD_USER" --key "$SSHD_KEY" \
  --fingerprint "$SSHD_FINGERPRINT" --known-hosts "$SSHD_KNOWN_HOSTS" \
  --runner "$YB_BIN/yoban-runner" --state-dir "$state" "$@"
