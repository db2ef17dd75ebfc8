#!/usr/bin/env bash
# The code's shape (HACKING.md): one folder is one module, the folder tree is the dependency
# picture, and no module depends on one above it. Checked from CMake's own graph
# (cmake --graphviz), so a new file or a new link is judged as the build sees it. Also: every .c
# file sits in its module's folder (none at the top of scheduler/) and none is over 1,200 lines.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/assert.sh"
src=${YB_SOURCE_DIR:?}
work=$(mktemp -d "${TMPDIR:-/tmp}/yoban-layout.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The layers of HACKING.md: a module may use only modules of a lower layer.
declare -A layer=(
  [yb_common]=1
  [yb_time]=2 [yb_dispatch]=2 [yb_db]=2 [yb_steps]=2
  [yb_model]=3 [yb_runner]=3
  [yb_notify]=4 [yb_report]=4
  [yb_daemon]=5 [yb_cli]=5
)

cmake -S "$src" -B "$work/build" --graphviz="$work/deps.dot" -DYB_TESTS=OFF >"$work/cmake.log" 2>&1 \
  || { cat "$work/cmake.log"; bail "cmake configure"; }

# node ids -> names, then module -> module edges
declare -A name=()
while read -r id label; do name[$id]=$label; done < <(
  sed -n 's/^ *"\(node[0-9]*\)" \[ label = "\([^"]*\)".*/\1 \2/p' "$work/deps.dot")
modules=$(for n in "${name[@]}"; do [[ $n == yb_* ]] && echo "$n"; done | sort -u | tr '\n' ' ')
for m in $modules; do
  check_status "module $m has a layer in HACKING.md's table" 0 test -n "${layer[$m]:-}"
done
bad=
while read -r from to; do
  f=${name[$from]:-}; t=${name[$to]:-}
  [[ $f == yb_* && $t == yb_* ]] || continue
  [ -n "${layer[$f]:-}" ] && [ -n "${layer[$t]:-}" ] || continue
  if [ "${layer[$t]}" -ge "${layer[$f]}" ]; then bad+="$f -> $t; "; fi
done < <(sed -n 's/^ *"\(node[0-9]*\)" -> "\(node[0-9]*\)".*/\1 \2/p' "$work/deps.dot")
check "no module depends on one at its layer or above" "" "$bad"

# every .c in a module folder; none at the top of scheduler/
check "no .c file at the top of scheduler/" "" "$(cd "$src" && ls scheduler/*.c 2>/dev/null)"
big=$(cd "$src" && git ls-files '*.c' 2>/dev/null | xargs -r wc -l | awk '$2 != "total" && $1 > 1200 {print $2 " (" $1 ")"}')
check "no .c file over 1,200 lines" "" "$big"
orphans=
for d in $(cd "$src" && git ls-files '*.c' | xargs -rn1 dirname | sort -u); do
  case $d in tests/*) continue;; esac
  [ -f "$src/$d/CMakeLists.txt" ] || orphans+="$d "
done
check "every folder with .c files is a module (has a CMakeLists.txt)" "" "$orphans"
finish
