#!/usr/bin/env bash
# Effort hours (工数) against the contract's caps (docs/effort.md), with a real yoband and
# yoban-notify:
#   - yoband writes the site's contract: into yoban.contract;
#   - log / list / summary: the figures match what this test computes from the hours it logged
#     (1 person-day = 2 h, 1 person-month = 5 person-days here, so caps are reached quickly);
#   - a run of a runbook with effort: records its hours exactly once (to the requester, staging
#     runs too), a scheduled run to the contract's team, a skipped run nothing; a daemon restart
#     adds nothing; a rerun is a new run and records again;
#   - corrections (own entries, admins anyone's; no overdraw, no correction of a correction);
#   - refusals: no role, bad values, a future date, a 25-hour day, outside the contract;
#   - cap warnings: 80 % and 100 % of a monthly and of the total cap each write exactly one event
#     and one delivered notice (a command channel); crossing nothing writes none; incident hours
#     never warn; a correction that goes below and an entry that crosses again warns again.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/assert.sh"
. "$here/lib/pg.sh"
. "$here/lib/daemon.sh"

PY=/usr/bin/python3
yd_setup || bail "yd_setup"
pg_create_login bob yoban_operator >/dev/null || bail "login bob"
pg_create_login ada yoban_admin >/dev/null || bail "login ada"
pg_create_login rita yoban_reviewer >/dev/null || bail "login rita"
work=$PG_BASE/effort
mkdir -p "$work"
chmod 0755 "$PG_BASE" "$work" 2>/dev/null
cat >"$work/pager.sh" <<EOF
#!/bin/sh
cat >>"$work/notices.jsonl"; echo >>"$work/notices.jsonl"
EOF
chmod 755 "$work/pager.sh"

# People log in as themselves (PGUSER); yoband and the worker as yoband.
cat >"$YD_SITE/yoban.yaml" <<YAML
database: "host=$PGHOST dbname=yoban"
state_dir: $YD_SITE/state
runbooks: runbooks
inventory: inventory.yaml
timezone: Asia/Tokyo
notify:
  channels:
    pager: { command: [$work/pager.sh], timeout: 10s }
  default: [pager]
contract:
  period: { from: 2025-01-01, to: 2099-12-31 }
  hours_per_day: 2
  days_per_month: 5
  caps:
    service: { per_month: 1, total: 3 }
    modification: { per_month: 1 }
  team: night-team
YAML
yb() { "$YB_BIN/yoban" "$@"; }
as() { local who=$1; shift; PGUSER=$who "$YB_BIN/yoban" "$@"; }
events() { yd_sql "SELECT count(*) FROM yoban.notify_events WHERE event = 'cap_warning'"; }

# ---- the site config: team and caps are checked ----
mkdir -p "$work/bad/runbooks"
printf 'contract:\n  caps: { incident: { per_month: 1 } }\n' >"$work/bad/yoban.yaml"
out=$(yb validate --config "$work/bad/yoban.yaml" "$work/bad/runbooks" 2>&1)
check "an incident cap is refused" 1 "$?"
contains "and says incident recovery is never capped" "incident recovery is never capped" "$out"
printf 'contract:\n  team: "night team"\n' >"$work/bad/yoban.yaml"
out=$(yb validate --config "$work/bad/yoban.yaml" "$work/bad/runbooks" 2>&1)
check "a team name with a space is refused" 1 "$?"
contains "and the message names the key" "'team' must be" "$out"

# ---- runbooks with effort: ----
yd_runbook patchy 'targets: { hosts: [local], staging_hosts: [local-stg] }
effort: { category: incident, hours: 1.5 }
steps:
  - name: fix
    run: echo fixed'
yd_runbook failing 'targets: { hosts: [local] }
effort: { category: incident, hours: 0.75 }
notify: { on: [timeout] }
steps:
  - name: fix
    run: exit 3'
yd_runbook slowly 'targets: { hosts: [local] }
concurrency: forbid
effort: { category: incident, hours: 2 }
steps:
  - name: wait
    run: sleep 3'
yd_runbook ticker 'schedule: { cron: "* * * * * *", timezone: Asia/Tokyo, catchup: none }
targets: { hosts: [local] }
effort: { category: incident, hours: 0.25 }
steps:
  - name: tick
    run: "true"'

PGUSER=yoband yd_start
yd_wait_sql "SELECT team FROM yoban.contract" night-team 30 || bail "yoband wrote the contract"
check "the contract row holds the site's figures" "2025-01-01|2099-12-31|2|5|night-team" \
  "$(yd_sql "SELECT period_from, period_to, hours_per_day::float8, days_per_month::float8, team FROM yoban.contract")"
check "and the caps in person-months" '1|3|1|' \
  "$(yd_sql "SELECT (caps#>>'{service,per_month}')::float8, (caps#>>'{service,total}')::float8, (caps#>>'{modification,per_month}')::float8, caps#>>'{modification,total}' FROM yoban.contract")"

# ---- a scheduled run: to the team ----
check_status "the ticker ran on its schedule" 0 yd_wait_sql \
  "SELECT count(*) > 0 FROM yoban.runs WHERE runbook = 'ticker' AND state = 'succeeded'" t 30
rm -f "$YD_SITE/runbooks/ticker.yaml"
as alice reload --wait >/dev/null 2>&1
sleep 1.5 # a tick in flight ends
yd_wait_sql "SELECT count(*) FROM yoban.runs WHERE runbook = 'ticker' AND ended_at IS NULL" 0 30
check "every ticker run that ran has one entry, for the team, 0.25 h of incident" \
  "$(yd_sql "SELECT count(*) FROM yoban.runs r WHERE r.runbook = 'ticker' AND EXISTS (SELECT 1 FROM yoban.jobs j WHERE j.run_id = r.id)")|night-team|0.25|incident|run" \
  "$(yd_sql "SELECT count(*), min(person), min(hours), min(category::text), min(source) FROM yoban.effort_entries e JOIN yoban.runs r ON r.id = e.run_id WHERE r.runbook = 'ticker'")"

# ---- a manual run: once, to the requester ----
run=$(as alice trigger patchy --wait --format json | $PY -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
check_status "the run of patchy succeeded" 0 yd_wait_sql "SELECT state FROM yoban.runs WHERE id = ${run:-0}" succeeded 30
yd_wait_sql "SELECT count(*) FROM yoban.effort_entries WHERE run_id = $run" 1 10
check "its effort: one entry, alice's, 1.50 h of incident, dated the run's start in Tokyo" \
  "1|alice|1.50|incident|run|t" \
  "$(yd_sql "SELECT count(*), min(e.person), min(e.hours), min(e.category::text), min(e.source), bool_and(e.work_date = (r.started_at AT TIME ZONE 'Asia/Tokyo')::date) FROM yoban.effort_entries e JOIN yoban.runs r ON r.id = e.run_id WHERE e.run_id = $run")"
check "recording it again records nothing (once per run)" "" \
  "$(PGUSER=yoband yd_sql "SELECT yoban.yoban_effort_record_run($run, 1.5, 'incident')")"
check "still one entry" 1 "$(yd_sql "SELECT count(*) FROM yoban.effort_entries WHERE run_id = $run")"
check "a person cannot record a run's effort" 1 \
  "$(status_of env PGUSER=alice "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -d yoban -c "SELECT yoban.yoban_effort_record_run($run, 9, 'service')")"

# a failed run ran: it records; a run skipped by concurrency: forbid did not: nothing
frun=$(as bob trigger failing --wait --format json | $PY -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
check_status "the failing run failed" 0 yd_wait_sql "SELECT state FROM yoban.runs WHERE id = ${frun:-0}" failed 30
check_status "a failed run records its effort, to bob" 0 yd_wait_sql \
  "SELECT person || ' ' || hours FROM yoban.effort_entries WHERE run_id = $frun" "bob 0.75" 10
s1=$(as alice trigger slowly --wait --format json | $PY -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
s2=$(as alice trigger slowly --wait --format json 2>/dev/null | $PY -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
check_status "the second run of 'slowly' is skipped (concurrency: forbid)" 0 yd_wait_sql "SELECT state FROM yoban.runs WHERE id = ${s2:-0}" skipped 30
check_status "the first one succeeds" 0 yd_wait_sql "SELECT state FROM yoban.runs WHERE id = ${s1:-0}" succeeded 30
check "the run that ran has its entry, the skipped one none" "1|0" \
  "$(yd_sql "SELECT (SELECT count(*) FROM yoban.effort_entries WHERE run_id = $s1), (SELECT count(*) FROM yoban.effort_entries WHERE run_id = $s2)")"

# a staging run is work too
srun=$(as alice trigger patchy --staging --wait --format json | $PY -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
check_status "a staging run of patchy succeeded" 0 yd_wait_sql "SELECT state FROM yoban.runs WHERE id = ${srun:-0}" succeeded 30
check_status "and recorded its effort" 0 yd_wait_sql "SELECT count(*) FROM yoban.effort_entries WHERE run_id = $srun" 1 10

# across a restart: nothing more; a rerun is a new run and records again
yd_stop "$YD_PID"
PGUSER=yoband yd_start
yd_wait_sql "SELECT count(*) > 0 FROM yoban.heartbeats WHERE leader" t 30 >/dev/null 2>&1
rerun=$(as alice rerun "$run" --wait --format json | $PY -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
check_status "the rerun succeeded" 0 yd_wait_sql "SELECT state FROM yoban.runs WHERE id = ${rerun:-0}" succeeded 30
yd_wait_sql "SELECT count(*) FROM yoban.effort_entries WHERE run_id = $rerun" 1 10
check "the contract was written once: the restart found it unchanged" 1 \
  "$(yd_sql "SELECT count(*) FROM yoban.audit WHERE action = 'contract:load'")"
check "after the restart the first run still has one entry, the rerun its own" "1|1|alice" \
  "$(yd_sql "SELECT (SELECT count(*) FROM yoban.effort_entries WHERE run_id = $run), (SELECT count(*) FROM yoban.effort_entries WHERE run_id = $rerun), (SELECT person FROM yoban.effort_entries WHERE run_id = $rerun)")"
check "no cap warning from incident hours of runs" 0 "$(events)"

# ---- log: refusals ----
out=$(as rita effort log --hours 1 --category service --date 2025-03-01 2>&1)
check "a reviewer may not log" 1 "$?"
contains "the refusal names the role" "permission denied" "$out"
contains "and the GRANT an admin runs" "GRANT yoban_operator" "$out"
out=$(as alice effort log --hours 1 --category servce 2>&1)
check "an unknown category is a usage error" 2 "$?"
contains "with a did-you-mean" "did you mean 'service'" "$out"
out=$(as alice effort log --hours 1 --category service --date 2025-02-30 2>&1)
check "a day that does not exist is refused" 1 "$?"
contains "and the message says how to write dates" "YYYY-MM-DD" "$out"
out=$(as alice effort log --hours abc --category service 2>&1)
check "hours that are not a number: usage error naming --hours" 2 "$?"
contains "it names the option" "--hours 'abc'" "$out"
for h in 0 25 -2; do
  out=$(as alice effort log --hours "$h" --category service --date 2025-03-01 2>&1)
  check "hours $h are refused" 1 "$?"
done
contains "negative hours are only corrections" "--corrects" "$out"
out=$(as alice effort log --hours 1 --category service --date 2099-01-01 2>&1)
check "a future date is refused" 1 "$?"
contains "and says so" "in the future" "$out"
out=$(as alice effort log --hours 1 --category service --date 2024-12-31 2>&1)
check "a date before the contract is refused" 1 "$?"
contains "naming the period" "outside the contract period" "$out"
check "nobody writes entries directly" 1 \
  "$(status_of env PGUSER=alice "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -d yoban -c "INSERT INTO yoban.effort_entries (person, work_date, hours, category) VALUES ('alice', '2025-03-01', 1, 'service')")"
check "entries are append-only, even for the superuser" 1 \
  "$(status_of "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -d yoban -c "UPDATE yoban.effort_entries SET hours = 2")"
check "no entry came of the refusals" 0 "$(yd_sql "SELECT count(*) FROM yoban.effort_entries WHERE source = 'manual'")"

# ---- cap warnings (service: 1 person-month = 10 h; a month's cap 10 h, the total 30 h) ----
logid() { as "$1" effort log --format json "${@:2}" | $PY -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
e1=$(logid alice --hours 5 --category service --date 2025-03-03 --ticket T-1)
check "5 h (50 % of March): no warning" 0 "$(events)"
e2=$(logid alice --hours 3 --category service --date 2025-03-04)
check "8 h (80 % of March): one warning" 1 "$(events)"
check "it names the category, the cap, the threshold, the figures and the entry" \
  "service|month|2025-03|80|8.00|0.80|1|80.0|$e2|alice" \
  "$(yd_sql "SELECT detail->>'category', detail->>'cap', detail->>'month', detail->>'threshold', detail->>'hours', detail->>'person_months', detail->>'cap_person_months', detail->>'percent', detail->>'entry', detail->>'person' FROM yoban.notify_events WHERE event = 'cap_warning' ORDER BY id DESC LIMIT 1")"
logid alice --hours 1 --category service --date 2025-03-05 >/dev/null
check "9 h: nothing crossed, no warning" 1 "$(events)"
e4=$(logid bob --hours 1.5 --category service --date 2025-03-05)
check "10.5 h (105 %): one warning at 100 %" "2|100|$e4" \
  "$(events)|$(yd_sql "SELECT detail->>'threshold', detail->>'entry' FROM yoban.notify_events WHERE event = 'cap_warning' ORDER BY id DESC LIMIT 1" | tr '\n' '|' | sed 's/|$//')"
logid alice --hours 2 --category service --date 2025-03-06 >/dev/null
check "12.5 h: already over, no warning" 2 "$(events)"
logid alice --hours 20 --category incident --date 2025-03-10 >/dev/null
check "20 h of incident recovery: never a warning" 2 "$(events)"
out=$(as alice effort log --hours 5 --category service --date 2025-03-10 2>&1)
check "a 25-hour day for alice is refused" 1 "$?"
contains "and says 24" "at most 24" "$out"
logid alice --hours 9 --category service --date 2025-04-01 >/dev/null
check "9 h in April: its 80 %, one warning (total 21.5 h of 30: none)" "3|month|2025-04|80" \
  "$(events)|$(yd_sql "SELECT detail->>'cap', detail->>'month', detail->>'threshold' FROM yoban.notify_events WHERE event = 'cap_warning' ORDER BY id DESC LIMIT 1" | tr '\n' '|' | sed 's/|$//')"
logid alice --hours 2.5 --category service --date 2025-05-01 >/dev/null
check "total 24 h = 80 % of the total cap: one warning" "4|total|80|24.00|2.40|3" \
  "$(events)|$(yd_sql "SELECT detail->>'cap', detail->>'threshold', detail->>'hours', detail->>'person_months', detail->>'cap_person_months' FROM yoban.notify_events WHERE event = 'cap_warning' ORDER BY id DESC LIMIT 1" | tr '\n' '|' | sed 's/|$//')"
logid alice --hours 5 --category service --date 2025-06-01 >/dev/null
check "29 h: no warning" 4 "$(events)"
e9=$(logid alice --hours 1 --category service --date 2025-06-02)
check "30 h = 100 % of the total cap: one warning" "5|total|100|$e9" \
  "$(events)|$(yd_sql "SELECT detail->>'cap', detail->>'threshold', detail->>'entry' FROM yoban.notify_events WHERE event = 'cap_warning' ORDER BY id DESC LIMIT 1" | tr '\n' '|' | sed 's/|$//')"

# ---- corrections ----
c1=$(logid alice --hours -1 --corrects "$e9" --note "logged twice")
check "a correction takes the entry's person, category and date" "alice|service|2025-06-02|-1.00|$e9" \
  "$(yd_sql "SELECT person, category, work_date, hours, corrects FROM yoban.effort_entries WHERE id = $c1")"
check "a correction down warns of nothing" 5 "$(events)"
e11=$(logid alice --hours 1 --category service --date 2025-06-03)
check "crossing 100 % again warns again" "6|total|100|$e11" \
  "$(events)|$(yd_sql "SELECT detail->>'cap', detail->>'threshold', detail->>'entry' FROM yoban.notify_events WHERE event = 'cap_warning' ORDER BY id DESC LIMIT 1" | tr '\n' '|' | sed 's/|$//')"
out=$(as alice effort log --hours -1 --corrects "$e9" 2>&1)
check "a correction cannot take an entry below 0" 1 "$?"
contains "and says where it stands" "below 0 hours" "$out"
out=$(as alice effort log --hours -1 --corrects "$c1" 2>&1)
check "a correction of a correction is refused" 1 "$?"
out=$(as bob effort log --hours -1 --corrects "$e1" 2>&1)
check "bob may not correct alice's entry" 1 "$?"
contains "the refusal says whose it is" "alice's" "$out"
out=$(as alice effort log --hours -1 --corrects "$e1" --category modification 2>&1)
check "a correction keeps the category" 1 "$?"
c2=$(logid ada --hours -0.5 --corrects "$e1" --note "admin fix")
check "an admin corrects anyone's entry: it stays alice's, ada wrote it" "alice|ada|-0.50" \
  "$(yd_sql "SELECT person, created_by, hours FROM yoban.effort_entries WHERE id = $c2")"
check "every log has its audit row" \
  "$(yd_sql "SELECT count(*) FROM yoban.effort_entries WHERE source = 'manual'")" \
  "$(yd_sql "SELECT count(*) FROM yoban.audit WHERE action = 'effort:log'")"

# ---- list and summary: the figures, computed here from what was logged ----
# March: service 5 + 3 + 1 + 1.5 + 2 - 0.5 (ada's correction of e1) = 12 h; incident 20 h.
# Total service to the end of March: 12 h; to the end of June: 12 + 9 + 2.5 + 5 + 1 - 1 + 1 = 29.5 h.
expect=$($PY - <<'PY'
hpd, dpm = 2, 5
def pm(h): return h / hpd / dpm
march = {"service": 12.0, "incident": 20.0, "modification": 0.0}
total = {"service": 12.0, "incident": 20.0, "modification": 0.0}
caps = {"service": (1, 3), "incident": (None, None), "modification": (1, None)}
out = []
for c in ("service", "incident", "modification"):
    h, t = march[c], total[c]
    cm, ct = caps[c]
    out.append("%s %.2f %.2f %.2f %s %s %.2f %.2f %s" % (
        c, h, h / hpd, pm(h), cm, "%.2f" % (pm(h) / cm * 100) if cm else None,
        t, pm(t), "%.2f" % (pm(t) / ct * 100) if ct else None))
print("\n".join(out))
PY
)
got=$(as rita effort summary --month 2025-03 --format json | $PY -c '
import json, sys
d = json.load(sys.stdin)
for c in d["categories"]:
    cm = c["cap_month"]
    print("%s %.2f %.2f %.2f %s %s %.2f %.2f %s" % (c["category"], c["hours"], c["person_days"],
        c["person_months"], None if cm is None else int(cm),
        None if c["month_percent"] is None else "%.2f" % c["month_percent"],
        c["total_hours"], c["total_person_months"],
        None if c["total_percent"] is None else "%.2f" % c["total_percent"]))')
check "summary --month 2025-03 (JSON) matches the figures computed here" "$expect" "$got"
june=$(as rita effort summary --month 2025-06 --format json | $PY -c '
import json, sys
d = json.load(sys.stdin)
s = [c for c in d["categories"] if c["category"] == "service"][0]
print(s["hours"], s["total_hours"], s["total_person_months"], s["total_percent"], d["team"])')
check "June: 6 h in the month, 29.5 h = 2.95 of 3 person-months (98.33 %) to date" "6.0 29.5 2.95 98.33 night-team" "$june"
text=$(as rita effort summary --month 2025-03)
check "summary in text" 0 "$?"
contains "text: service's line with its figures" "service         12.00     6.00     1.20      1.00  120.0%      12.00     1.20      3.00   40.0%" "$text"
contains "text: incident is uncapped" "(uncapped)" "$text"
list=$(as rita effort list --month 2025-03 --person alice --format json | $PY -c '
import json, sys
rows = json.load(sys.stdin)
print(len(rows), "%.2f" % sum(r["hours"] for r in rows), sorted(set(r["person"] for r in rows)))')
check "list --month 2025-03 --person alice: 6 entries, 30.50 h (corrections included)" "6 30.50 ['alice']" "$list"
text=$(as rita effort list --month 2025-03)
contains "list in text sums per category" "service 12.00 h, incident 20.00 h, modification 0.00 h" "$text"
out=$(as rita effort summary --month 2025-13 2>&1)
check "a bad month is a usage error" 2 "$?"
contains "naming the option" "--month '2025-13'" "$out"

# ---- the notices: one delivered per cap warning ----
PGUSER=yoband "$YB_BIN/yoban-notify" --once >"$PG_BASE/notify.log" 2>&1
check "yoban-notify --once" 0 "$?"
check "every cap warning was delivered once, to the site's default channel" "6|6|pager" \
  "$(yd_sql "SELECT count(DISTINCT e.id), count(*) FILTER (WHERE n.state = 'delivered'), min(n.channel) FROM yoban.notify_events e JOIN yoban.notifications n ON n.event_id = e.id WHERE e.event = 'cap_warning'")"
got=$($PY -c '
import json, sys
for line in open(sys.argv[1]):
    if line.strip():
        n = json.loads(line)
        if n["event"] == "cap_warning":
            c = n["cap_warning"]; print(c["cap"], c.get("month") or "-", c["threshold"])' "$work/notices.jsonl")
check "the pager got the six, in order" "$(printf 'month 2025-03 80\nmonth 2025-03 100\nmonth 2025-04 80\ntotal - 80\ntotal - 100\ntotal - 100')" "$got"
contains "the notice reads for city staff (ja)" "運用・保守作業 (service) の工数が2025-03 の月間上限の 80% に達しました" "$(cat "$work/notices.jsonl")"
contains "and in English" "Effort in service has reached 80 % of its monthly cap for 2025-03" "$(cat "$work/notices.jsonl")"
check_status "no sanitizer report from yoban-notify" 1 grep -q 'ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:' "$PG_BASE/notify.log"
finish
