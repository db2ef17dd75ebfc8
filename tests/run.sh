#!/usr/bin/env bash
# Runs every Yoban test: installs what is missing, builds with ASan/UBSan and -Werror, runs the
# unit tests (Check) and the integration tests (real PostgreSQL, real sshd) through ctest, then
# runs each fuzz target briefly (clang, libFuzzer) on its seed corpus.
#   ./tests/run.sh                 everything
#   ./tests/run.sh -R cron         only the ctest tests whose name matches
#   YB_FUZZ_SECONDS=60 ./tests/run.sh   fuzz longer (default 15 s a target)
#   YB_SKIP_FUZZ=1 ./tests/run.sh       no fuzzing
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

./deploy/install-deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
echo "== build (ASan + UBSan, -Werror) in build-test/"
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DYB_WERROR=ON -DYB_SANITIZE=ON >/dev/null
cmake --build build-test -j"$jobs" >/dev/null 2> build-test.log || { cat build-test.log; exit 1; }

echo "== unit and integration tests (ctest)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest_status=0
(cd build-test && ctest --output-on-failure -j"$jobs" "$@") || ctest_status=$?

fuzz_status=0
if [ -z "${YB_SKIP_FUZZ:-}" ] && [ $# -eq 0 ]; then
  echo "== fuzz targets (libFuzzer, ASan + UBSan), ${YB_FUZZ_SECONDS:-15} s each"
  CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DYB_FUZZ=ON >/dev/null
  cmake --build build-fuzz -j"$jobs" >/dev/null 2> build-fuzz.log || { cat build-fuzz.log; exit 1; }
  for f in build-fuzz/fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    name=$(basename "$f")
    seeds=tests/fuzz/corpus/${name#fuzz_}
    work=$(mktemp -d)
    [ -d "$seeds" ] && cp -r "$seeds"/. "$work"/
    if "$f" -max_total_time="${YB_FUZZ_SECONDS:-15}" -timeout=10 -rss_limit_mb=2048 \
         -artifact_prefix="build-fuzz/$name-" "$work" > "build-fuzz/$name.log" 2>&1; then
      echo "fuzz $name: ok ($(grep -o 'stat::number_of_executed_units: [0-9]*' "build-fuzz/$name.log" || \
        grep -Eo '#[0-9]+' "build-fuzz/$name.log" | tail -1) runs)"
    else
      echo "fuzz $name: FAILED (crash, leak or hang; see build-fuzz/$name.log)"
      tail -40 "build-fuzz/$name.log"
      fuzz_status=1
    fi
    rm -rf "$work"
  done
fi

if [ "$ctest_status" -ne 0 ] || [ "$fuzz_status" -ne 0 ]; then
  echo "tests FAILED (ctest exit $ctest_status, fuzz $fuzz_status)"
  exit 1
fi
echo "all tests passed"
