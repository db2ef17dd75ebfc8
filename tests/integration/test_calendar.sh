#!/usr/bin/env bash
# yoban calendar: the closed days an operator would check against the Cabinet Office's list,
# is-open's answer through the exit status, JSON output, and the errors for bad input.
set -uo pipefail
yoban="${YB_BIN:?}/yoban"
. "${YB_SOURCE_DIR:?}/tests/integration/lib/assert.sh"
tab=$'\t'

check "2026 national holidays" \
  "2026-01-01${tab}元日
2026-01-12${tab}成人の日
2026-02-11${tab}建国記念の日
2026-02-23${tab}天皇誕生日
2026-03-20${tab}春分の日
2026-04-29${tab}昭和の日
2026-05-03${tab}憲法記念日
2026-05-04${tab}みどりの日
2026-05-05${tab}こどもの日
2026-05-06${tab}振替休日
2026-07-20${tab}海の日
2026-08-11${tab}山の日
2026-09-21${tab}敬老の日
2026-09-22${tab}国民の休日
2026-09-23${tab}秋分の日
2026-10-12${tab}スポーツの日
2026-11-03${tab}文化の日
2026-11-23${tab}勤労感謝の日" \
  "$("$yoban" calendar holidays --year 2026)"

check "2019 golden week, ten days" \
  "2019-04-29${tab}昭和の日
2019-04-30${tab}国民の休日
2019-05-01${tab}天皇の即位の日
2019-05-02${tab}国民の休日
2019-05-03${tab}憲法記念日
2019-05-04${tab}みどりの日
2019-05-05${tab}こどもの日
2019-05-06${tab}振替休日" \
  "$("$yoban" calendar holidays --year 2019 --calendar jp | grep -E '^2019-0(4-29|4-30|5-0)')"

check "the law's first year starts on 1948-07-20" \
  "1948-09-23${tab}秋分の日
1948-11-03${tab}文化の日
1948-11-23${tab}勤労感謝の日" \
  "$("$yoban" calendar holidays --year=1948)"

check "before the law: nothing, and that is not an error" "" "$("$yoban" calendar holidays --year 1947)"

json=$("$yoban" calendar holidays --year 2021 --format json)
check "json: the 2021 olympic moves" '2021 jp 海の日 2021-07-22 2021-08-09' \
  "$(printf '%s' "$json" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
names = {c["date"]: c["name"] for c in d["closed"]}
print(d["year"], d["calendar"], names["2021-07-22"], "2021-07-22", [k for k, v in names.items() if v == "振替休日"][0])')"

check "is-open: a substitute holiday is closed" \
  "2026-05-06 (水) is closed in calendar 'jp': 振替休日" "$("$yoban" calendar is-open 2026-05-06)"
check "is-open: closed exits 1" 1 "$(status_of "$yoban" calendar is-open 2026-05-06)"
check "is-open: an ordinary Thursday is open" 0 "$(status_of "$yoban" calendar is-open 2026-05-07)"
check "is-open: jp keeps weekends open" 0 "$(status_of "$yoban" calendar is-open 2026-06-06 --calendar jp)"
check "is-open json" '{"date": "2026-09-22", "calendar": "jp", "open": false, "why": "国民の休日"}' \
  "$("$yoban" calendar is-open --format json 2026-09-22 | /usr/bin/python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin), ensure_ascii=False))')"

unset YOBAN_CONFIG
err=$("$yoban" calendar holidays --year 2026 --calendar city 2>&1 >/dev/null)
matches "unknown calendar without a site says how to name one" "*unknown calendar 'city'*--config*" "$err"
check "unknown calendar exits 1" 1 "$(status_of "$yoban" calendar is-open 2026-01-01 --calendar city)"

# The site calendar of the examples: weekends, national holidays and 12-29..01-03 closed.
site="${YB_SOURCE_DIR:?}/runbooks/yoban.yaml"
check "site calendar: year end is closed" \
  "2026-12-29 (火) is closed in calendar 'city': 年末年始" \
  "$("$yoban" calendar is-open 2026-12-29 --calendar city --config "$site")"
check "site calendar: a Saturday is closed" 1 "$(status_of "$yoban" calendar is-open 2026-06-06 --calendar city --config "$site")"
check "site calendar: an ordinary Monday is open" 0 "$(status_of "$yoban" calendar is-open 2026-06-08 --calendar city --config "$site")"
check "site calendar via YOBAN_CONFIG" "2026-01-01	元日" \
  "$(YOBAN_CONFIG="$site" "$yoban" calendar holidays --year 2026 --calendar city | head -1)"
n_closed=$("$yoban" calendar holidays --year 2026 --calendar city --config "$site" | wc -l)
# 2026: 104 weekend days, 16 national holidays on weekdays... counted independently below.
expected=$(/usr/bin/python3 - "$("$yoban" calendar holidays --year 2026 | cut -f1 | tr '\n' ' ')" <<'PY'
import datetime, sys
hol = set(sys.argv[1].split())
d = datetime.date(2026, 1, 1); n = 0
while d.year == 2026:
    s = d.isoformat()
    if d.weekday() >= 5 or s in hol or (d.month, d.day) >= (12, 29) or (d.month == 1 and d.day <= 3):
        n += 1
    d += datetime.timedelta(days=1)
print(n)
PY
)
check "site calendar: closed days of 2026 = weekends + holidays + year end" "$expected" "$n_closed"
err=$("$yoban" calendar holidays --year 2026 --calendar nope --config "$site" 2>&1 >/dev/null)
matches "unknown site calendar lists the known ones" "*unknown calendar 'nope'*known: jp, city*" "$err"
check "no subcommand" 2 "$(status_of "$yoban" calendar)"
check "unknown subcommand" 2 "$(status_of "$yoban" calendar list)"
check "holidays without --year" 2 "$(status_of "$yoban" calendar holidays)"
check "bad year" 2 "$(status_of "$yoban" calendar holidays --year 20x6)"
check "year out of range" 2 "$(status_of "$yoban" calendar holidays --year 10000)"
check "--year without a value" 2 "$(status_of "$yoban" calendar holidays --year)"
check "bad format" 2 "$(status_of "$yoban" calendar holidays --year 2026 --format xml)"
check "unknown option" 2 "$(status_of "$yoban" calendar holidays --year 2026 --yaer 2026)"
check "not a date" 2 "$(status_of "$yoban" calendar is-open 2026-02-30)"
check "not a date either" 2 "$(status_of "$yoban" calendar is-open 2026/05/06)"
check "is-open without a date" 2 "$(status_of "$yoban" calendar is-open)"
check "two dates" 2 "$(status_of "$yoban" calendar is-open 2026-05-06 2026-05-07)"
check "--help exits 0" 0 "$(status_of "$yoban" calendar --help)"
matches "help starts with the usage" 'usage:*is-open*' "$("$yoban" calendar --help)"

finish
