#!/usr/bin/env bash
# Every benchmark of docs/benchmarks.md in turn, each with its defaults: the cron engine
# (run_cron.sh), the runner over SSH (run_runner.sh), yoband (run_daemon.sh all) and the monthly
# report over a month of 100,000 runs and 1,000,000 jobs (run_report.sh). Each builds
# Release in its own folder and prints markdown-ready figures; see each script for its options
# (run one alone to pass them). Not run by ctest: a benchmark wants a quiet machine.
#   tests/bench/run.sh
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
failed=()
for bench in run_cron.sh run_runner.sh run_daemon.sh run_report.sh; do
  echo "== tests/bench/$bench"
  "$here/$bench" || failed+=("$bench")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "benchmarks FAILED: ${failed[*]}"
  exit 1
fi
echo "all benchmarks ran"
