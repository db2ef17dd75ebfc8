#!/usr/bin/env bash
# yoban next: the answers an operator would check by hand, for bare cron expressions in several
# zones, both directions, JSON output, and the errors for bad input.
set -uo pipefail
yoban="${YB_BIN:?}/yoban"
. "${YB_SOURCE_DIR:?}/tests/integration/lib/assert.sh"

check "second monday 09:00 tokyo" \
  "2026-01-12T09:00:00+09:00
2026-02-09T09:00:00+09:00" \
  "$("$yoban" next --cron '0 9 * * mon#2' --tz Asia/Tokyo --from 2026-01-01T00:00:00+09:00 --count 2)"

check "previous fires go backwards" \
  "2026-01-11T01:30:00+09:00
2026-01-10T01:30:00+09:00" \
  "$("$yoban" next --cron '30 1 * * *' --tz Asia/Tokyo --from 2026-01-12T00:00:00+09:00 --count 2 --prev)"

check "strictly after --from" \
  "2026-01-12T01:31:00+09:00" \
  "$("$yoban" next --cron '* * * * *' --tz Asia/Tokyo --from 2026-01-12T01:30:00+09:00)"

# New York spring forward 2026-03-08: 02:30 does not exist; it fires once, at 03:00 EDT.
check "spring-forward gap fires once after the gap" \
  "2026-03-07T02:30:00-05:00
2026-03-08T03:00:00-04:00
2026-03-09T02:30:00-04:00" \
  "$("$yoban" next --cron '30 2 * * *' --tz America/New_York --from 2026-03-07T00:00:00-05:00 --count 3)"

# New York fall back 2026-11-01: 01:30 happens twice; it fires once, at the first (EDT).
check "fall-back hour fires once, first occurrence" \
  "2026-11-01T01:30:00-04:00
2026-11-02T01:30:00-05:00" \
  "$("$yoban" next --cron '30 1 * * *' --tz America/New_York --from 2026-10-31T12:00:00-04:00 --count 2)"

check "last day of february in a leap year" \
  "2028-02-29T00:00:00Z" \
  "$("$yoban" next --cron '0 0 L 2 *' --tz UTC --from 2027-03-01T00:00:00Z | sed 's/+00:00$/Z/')"

json=$("$yoban" next --cron '0 23 * * *' --tz Asia/Tokyo --from 2026-05-01T00:00:00+09:00 --count 2 --format json)
check "json lists the fires" '["2026-05-01T23:00:00+09:00","2026-05-02T23:00:00+09:00"]' \
  "$(printf '%s' "$json" | /usr/bin/python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["fires"], separators=(",",":")))')"

# A fraction of a second in --from counts, in both directions.
check "--prev from just after a fire finds it" "2018-01-02T10:00:00+00:00" \
  "$("$yoban" next --cron '0 10 * * *' --tz UTC --prev --from 2018-01-02T10:00:00.0005Z)"
check "--prev from the fire itself does not" "2018-01-01T10:00:00+00:00" \
  "$("$yoban" next --cron '0 10 * * *' --tz UTC --prev --from 2018-01-02T10:00:00Z)"
check "next from just before a fire finds it" "2018-01-02T10:00:00+00:00" \
  "$("$yoban" next --cron '0 10 * * *' --tz UTC --from 2018-01-02T09:59:59.9995Z)"
check "next from just after a fire skips it" "2018-01-03T10:00:00+00:00" \
  "$("$yoban" next --cron '0 10 * * *' --tz UTC --from 2018-01-02T10:00:00.5Z)"

# --cron searches as far as the engine does (February with five Mondays: 2044, 2072, 2112).
check "no ten-year horizon for a bare expression" \
  "2072-02-29T00:00:00+00:00
2112-02-29T00:00:00+00:00" \
  "$("$yoban" next --cron '0 0 * feb mon#5' --tz UTC --from 2045-01-01T00:00:00Z --count 2)"
err=$("$yoban" next --cron '0 0 1 1 * 0 2020' --tz UTC --from 2026-01-01T00:00:00Z 2>&1 >/dev/null)
check "a year that has passed says so" \
  "yoban: error: 0 0 1 1 * 0 2020: no fire after 2026-01-01T00:00:00+00:00: the year field ends in 2020" "$err"
check "a year that has passed exits 1" 1 \
  "$(status_of "$yoban" next --cron '0 0 1 1 * 0 2020' --tz UTC --from 2026-01-01T00:00:00Z)"
err=$("$yoban" next --cron '0 0 1 1 *' --tz UTC --from 9999-06-01T00:00:00Z 2>&1 >/dev/null)
contains "past the engine's range" "year 9999" "$err"
lacks "no calendar hint for a bare expression" calendar "$err"

# croniter's forms: wrapping ranges, n-L, the year field, hashed macros (with --hash-key only).
check "wrapping weekdays" \
  "2026-01-03T00:00:00+00:00
2026-01-06T00:00:00+00:00
2026-01-08T00:00:00+00:00" \
  "$("$yoban" next --cron '0 0 * * Thu-Tue/2' --tz UTC --from 2026-01-01T00:00:00Z --count 3)"
check "29th to the last day" \
  "2026-01-29T00:00:00+00:00
2026-01-31T00:00:00+00:00
2026-03-29T00:00:00+00:00" \
  "$("$yoban" next --cron '0 0 29-L/2 * *' --tz UTC --from 2026-01-01T00:00:00Z --count 3)"
check "seven fields: seconds, then the year" "2027-01-04T09:30:15+09:00" \
  "$("$yoban" next --cron '30 9 * * mon 15 2027' --tz Asia/Tokyo --from 2026-06-01T00:00:00+09:00)"
check "a macro without --hash-key is literal" "2026-01-02T00:00:00+00:00" \
  "$("$yoban" next --cron '@daily' --tz UTC --from 2026-01-01T00:00:00Z)"
check "a macro with --hash-key is hashed as croniter does" "2026-01-01T23:22:41+00:00" \
  "$("$yoban" next --cron '@daily' --hash-key nightly-batch --tz UTC --from 2026-01-01T00:00:00Z)"

# The repeated hour (New York 2026-11-01): every half hour fires on both passes; 01:30 once.
check "elapsed-time expression fires on both passes" \
  "2026-11-01T01:00:00-04:00
2026-11-01T01:30:00-04:00
2026-11-01T01:00:00-05:00
2026-11-01T01:30:00-05:00
2026-11-01T02:00:00-05:00" \
  "$("$yoban" next --cron '*/30 * * * *' --tz America/New_York --from 2026-11-01T00:45:00-04:00 --count 5)"
check "elapsed-time expression backwards" \
  "2026-11-01T01:30:00-05:00
2026-11-01T01:00:00-05:00
2026-11-01T01:30:00-04:00" \
  "$("$yoban" next --cron '*/30 * * * *' --tz America/New_York --from 2026-11-01T02:00:00-05:00 --count 3 --prev)"

check "impossible expression is a usage error" 2 "$(status_of "$yoban" next --cron '0 0 30 2 *')"
err=$("$yoban" next --cron '0 25 * * *' 2>&1 >/dev/null)
contains "bad hour names the field" hour "$err"
check "unknown zone is a usage error" 2 "$(status_of "$yoban" next --cron '* * * * *' --tz Mars/Olympus)"
check "bad --count" 2 "$(status_of "$yoban" next --cron '* * * * *' --count 0)"
check "nothing to do" 2 "$(status_of "$yoban" next)"
check "--help exits 0" 0 "$(status_of "$yoban" next --help)"

# Runbooks: their own zone and the city calendar (weekends, holidays, 12-29..01-03 closed).
rb="${YB_SOURCE_DIR:?}/runbooks"
unset YOBAN_CONFIG
check "nightly batch skips the weekend and the year end" \
  "2026-12-25T01:30:00+09:00
2026-12-28T01:30:00+09:00
2027-01-04T01:30:00+09:00" \
  "$("$yoban" next "$rb/nightly-resident-batch.yaml" --from 2026-12-24T12:00:00+09:00 --count 3)"
check "options may follow the runbook" \
  "$("$yoban" next --count 2 --from 2026-12-24T12:00:00+09:00 "$rb/nightly-resident-batch.yaml")" \
  "$("$yoban" next "$rb/nightly-resident-batch.yaml" --from 2026-12-24T12:00:00+09:00 --count 2)"
# The off-site copy (02:00 on the 1st, next_open_day): New Year's Day 2027 is a Friday and
# Jan 2-3 are closed, so it moves to Monday Jan 4; 2027-08-01 is a Sunday, so Monday Aug 2.
check "off-site copy moves to the next open day" \
  "2027-01-04T02:00:00+09:00
2027-02-01T02:00:00+09:00" \
  "$("$yoban" next "$rb/fileserver-offsite.yaml" --from 2026-12-01T03:00:00+09:00 --count 2)"
check "off-site copy on a Sunday the 1st" "2027-08-02T02:00:00+09:00" \
  "$("$yoban" next "$rb/fileserver-offsite.yaml" --from 2027-07-15T00:00:00+09:00)"
check "a runbook without a schedule exits 1" 1 "$(status_of "$yoban" next "$rb/patch-inc-2026-118.yaml")"
check "--tz with a runbook is a usage error" 2 "$(status_of "$yoban" next "$rb/nightly-resident-batch.yaml" --tz UTC)"
check "a missing runbook file exits 1" 1 "$(status_of "$yoban" next "$rb/no-such.yaml")"

finish
