#!/usr/bin/env bash
# Yoban quickstart: from a fresh Debian 12 machine to a validated set of runbooks and their
# schedules, in one command. It installs what is missing, builds, validates the example
# runbooks, and shows each runbook's plan and next fire times after the city calendar.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "installing build and runtime packages (only what is missing)"
./deploy/install-deps.sh

step "building (cmake -S . -B build && cmake --build build)"
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
yoban=build/bin/yoban
export YOBAN_CONFIG="$here/runbooks/yoban.yaml"

step "validating every example in runbooks/"
"$yoban" validate runbooks/

mapfile -t books < <(grep -l '^kind:' runbooks/*.yaml | sort)
for rb in "${books[@]}"; do
  step "plan: $rb"
  "$yoban" plan "$rb"
done

step "next fire times (after the calendar), from now"
for rb in "${books[@]}"; do
  if grep -q '^schedule:' "$rb"; then
    printf '%s\n' "$(basename "$rb" .yaml):"
    "$yoban" next "$rb" --count 3 | sed 's/^/  /'
  fi
done

step "closed days of the city calendar this year"
"$yoban" calendar holidays --year "$(date +%Y)" --calendar city

cat <<'EOT'

Done. Next:
  build/bin/yoban --help                 every command
  build/bin/yoban validate PATH...       check your own runbooks
  ./tests/run.sh                         run every test
EOT
