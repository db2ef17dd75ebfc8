# shellcheck shell=bash
# assert.sh: the one assertion vocabulary of the integration scripts (tests/integration/test_*.sh).
# Source it first, then:
#
#   check NAME EXPECTED ACTUAL        passes when ACTUAL is exactly EXPECTED (strings)
#   contains NAME NEEDLE HAYSTACK     passes when HAYSTACK holds NEEDLE (literally, not a pattern)
#   lacks NAME NEEDLE HAYSTACK        passes when HAYSTACK does not hold NEEDLE
#   matches NAME PATTERN TEXT         passes when the whole TEXT matches the shell glob PATTERN (as
#                                     in `case`: * ? [...] are special, everything else literal),
#                                     for an order or a shape: 'usage:*is-open*'
#   check_status NAME EXPECTED CMD... runs CMD (its output kept aside, shown on failure) and passes
#                                     when it exits EXPECTED; `check_status NAME 0 CMD` asserts
#                                     that a command or a predicate (test, grep -q, a function)
#                                     holds. CMD runs in a subshell: what it sets is lost (so not
#                                     yd_start, yd_stop: call those, then check their status)
#   status_of CMD...                  prints CMD's exit status (CMD's output discarded), for
#                                     `check NAME 2 "$(status_of yoban calendar)"`
#   bail NAME                         a setup step failed: reports NAME as failed, prints the
#                                     closing line and exits 1 (nothing after it could mean much)
#   finish                            runs the final checks the libraries registered (lib/daemon.sh:
#                                     every yoband stopped, no sanitizer report in its logs), prints
#                                     the closing line "N passed, N failed" and exits 1 when
#                                     anything failed (or when nothing was checked at all), else 0
#
# Every assertion prints one line, "ok - NAME" or "not ok - NAME"; a failure then shows what was
# expected and what was found (a unified diff when either side has several lines), indented by
# "#". Assertions return 0 when they pass and 1 when they fail, so a script may add a diagnostic:
# `check "run succeeded" succeeded "$st" || tail -20 "$log"`. Do not use `set -e` in a script that
# sources this file: the first failed assertion would end it without its closing line.
# ASSERT_PASSED and ASSERT_FAILED count the assertions so far (read them, do not set them); an
# assertion made in a subshell (inside $(...), or a loop at the end of a pipe) is not counted.
# A library adds a final check with `ASSERT_FINAL+=(function_name)`; finish calls each once.

ASSERT_PASSED=0
ASSERT_FAILED=0
ASSERT_FINAL=()

assert__pass() {
  ASSERT_PASSED=$((ASSERT_PASSED + 1))
  printf 'ok - %s\n' "$1"
  return 0
}

assert__fail() {
  ASSERT_FAILED=$((ASSERT_FAILED + 1))
  printf 'not ok - %s\n' "$1"
  return 1
}

# Indented, capped text for a failure report.
assert__show() { # LABEL TEXT
  local label=$1 text=$2 n
  if [[ $text != *$'\n'* ]]; then
    printf '#   %-9s [%s]\n' "$label:" "$text"
    return
  fi
  n=$(printf '%s\n' "$text" | wc -l)
  printf '#   %s (%d lines%s):\n' "$label" "$n" "$([ "$n" -gt 60 ] && echo ', the first 60')"
  printf '%s\n' "$text" | head -60 | sed 's/^/#     | /'
}

check() { # NAME EXPECTED ACTUAL
  [ $# -eq 3 ] || { assert__fail "$1 (check takes NAME EXPECTED ACTUAL, was given $# arguments)"; return 1; }
  if [ "$2" == "$3" ]; then assert__pass "$1"; return 0; fi
  assert__fail "$1"
  if [[ $2 == *$'\n'* || $3 == *$'\n'* ]]; then
    echo "#   expected and actual differ (- expected, + actual):"
    diff -u --label expected --label actual <(printf '%s\n' "$2") <(printf '%s\n' "$3") |
      tail -n +3 | head -80 | sed 's/^/#     /'
  else
    assert__show expected "$2"
    assert__show actual "$3"
  fi
  return 1
}

contains() { # NAME NEEDLE HAYSTACK
  [ $# -eq 3 ] || { assert__fail "$1 (contains takes NAME NEEDLE HAYSTACK, was given $# arguments)"; return 1; }
  if [[ $3 == *"$2"* ]]; then assert__pass "$1"; return 0; fi
  assert__fail "$1"
  assert__show missing "$2"
  assert__show in "$3"
  return 1
}

lacks() { # NAME NEEDLE HAYSTACK
  [ $# -eq 3 ] || { assert__fail "$1 (lacks takes NAME NEEDLE HAYSTACK, was given $# arguments)"; return 1; }
  if [[ $3 != *"$2"* ]]; then assert__pass "$1"; return 0; fi
  assert__fail "$1"
  assert__show unwanted "$2"
  assert__show in "$3"
  return 1
}

matches() { # NAME PATTERN TEXT
  [ $# -eq 3 ] || { assert__fail "$1 (matches takes NAME PATTERN TEXT, was given $# arguments)"; return 1; }
  # shellcheck disable=SC2053 # the pattern is a glob on purpose
  if [[ $3 == $2 ]]; then assert__pass "$1"; return 0; fi
  assert__fail "$1"
  assert__show pattern "$2"
  assert__show text "$3"
  return 1
}

status_of() { # CMD...
  "$@" >/dev/null 2>&1
  echo $?
}

check_status() { # NAME EXPECTED CMD...
  local name=$1 want=$2 out got
  shift 2
  [ $# -gt 0 ] || { assert__fail "$name (check_status takes NAME EXPECTED CMD...)"; return 1; }
  out=$("$@" 2>&1)
  got=$?
  if [ "$got" == "$want" ]; then assert__pass "$name"; return 0; fi
  assert__fail "$name"
  printf '#   command:  %s\n' "$(printf '%q ' "$@")"
  printf '#   exit status %s, expected %s\n' "$got" "$want"
  [ -z "$out" ] || assert__show output "$out"
  return 1
}

assert__summary() {
  printf '%d passed, %d failed\n' "$ASSERT_PASSED" "$ASSERT_FAILED"
}

bail() { # NAME
  assert__fail "$1"
  echo "# bailing out: a setup step failed"
  assert__summary
  exit 1
}

finish() {
  local f
  for f in "${ASSERT_FINAL[@]}"; do "$f"; done
  ASSERT_FINAL=()
  if [ $((ASSERT_PASSED + ASSERT_FAILED)) -eq 0 ]; then
    assert__fail "the script checked something (it made no assertion)"
  fi
  assert__summary
  [ "$ASSERT_FAILED" -eq 0 ] || exit 1
  exit 0
}
