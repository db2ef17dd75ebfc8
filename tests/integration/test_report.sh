#!/usr/bin/env bash
# yoban report monthly: a month seeded directly in SQL (as the superuser, triggers off), its
# figures computed again here in Python from the seed's own numbers (not by the report's SQL), and
# compared with --format json: runs by state (the month cut in Asia/Tokyo, runs on both sides of
# its edges), the on-time share and lateness p50/p99, each incident's SLA pass or fail, effort per
# category against its caps, backups per day with generations, availability with a leader gap and
# a maintenance window. Then the other formats in both languages (HTML escaping of what the
# database holds, RFC 4180 CSV), the errors a user meets, and the HTML in headless Chromium at A4
# width: no element past the page's content width, a screenshot kept in the build folder.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/assert.sh"
. "$here/lib/pg.sh"

PY=/usr/bin/python3
yb() { PGUSER=carol "$YB_BIN/yoban" "$@"; }

pg_start || bail "pg_start"
pg_psql -c "CREATE DATABASE yoban" || bail "create database"
"$YB_BIN/yoban" db migrate --database "host=$PGHOST dbname=yoban user=postgres" >/dev/null ||
  bail "yoban db migrate"
PGDATABASE=yoban pg_psql -c "SELECT yoban.yoban_grant_login('carol', ARRAY['yoban_reviewer'])" \
  >/dev/null || bail "a reviewer login"
work=$PG_BASE/report
mkdir -p "$work"
cat >"$work/yoban.yaml" <<YAML
database: "host=$PGHOST dbname=yoban"
state_dir: $work/state
timezone: Asia/Tokyo
contract:
  sla: { report: 30m, start: 2h, recover: 6h, availability: 99.9 }
maintenance:
  - { name: inspection, from: "2026-11-20T00:00+09:00", to: "2026-11-20T02:00+09:00", action: hold }
YAML
export YOBAN_CONFIG=$work/yoban.yaml

# ---- the seed and, from the same numbers, the expected figures --------------------------------
$PY - "$work" <<'PY' || bail "the seed generator"
import json, sys, datetime as dt
work = sys.argv[1]
JST = dt.timezone(dt.timedelta(hours=9))
UTC = dt.timezone.utc
def t(y, mo, d, h=0, mi=0, s=0): return dt.datetime(y, mo, d, h, mi, s, tzinfo=JST)
def q(x): return "NULL" if x is None else "'" + str(x).replace("'", "''") + "'"
def ts(x): return "NULL" if x is None else q(x.isoformat())
month_from, month_to = t(2026, 11, 1), t(2026, 12, 1)
now = dt.datetime.now(UTC)
runs, jobs, sql = [], [], []
def run(runbook, state, trigger="schedule", sched=None, created=None, late=None, mode="production",
        reason=None, run_seconds=120, job_state=None):
    rid = len(runs) + 1
    created = created or sched
    started = sched + dt.timedelta(seconds=late) if (sched and late is not None) else None
    if created and late is not None and not sched:
        started = created + dt.timedelta(seconds=late)
    ended = started + dt.timedelta(seconds=run_seconds) if started else (created if state in ("skipped", "cancelled") else None)
    runs.append(dict(id=rid, runbook=runbook, state=state, trigger=trigger, sched=sched, created=created,
                     started=started, ended=ended, mode=mode, reason=reason))
    if started:
        jobs.append(dict(run=rid, step="main", host="app1", state=job_state or ("succeeded" if state == "succeeded" else state if state in ("failed", "timed_out") else "failed"),
                         started=started, ended=ended))
    return rid

lates = [1, 2, 3, 4, 5, 10, 30, 59, 61, 300]
nightly = {}
for d, late in enumerate(lates, 1):
    st = "failed" if d == 9 else "timed_out" if d == 10 else "succeeded"
    nightly[d] = run("nightly", st, sched=t(2026, 11, d, 1), late=late,
                     reason="step main failed (exit 3)" if d == 9 else None)
missed = run("nightly", "skipped", sched=t(2026, 11, 20, 1), reason="missed: no scheduler was leading")
run("nightly", "skipped", sched=t(2026, 11, 23, 1), reason="closed day (calendar city)")
run("boundary", "succeeded", sched=t(2026, 10, 31, 23, 59, 59), late=0)
run("boundary", "succeeded", sched=t(2026, 11, 1, 0, 0, 0), late=0)
run("boundary", "succeeded", sched=t(2026, 12, 1, 0, 0, 0), late=0)
run("adhoc", "cancelled", trigger="manual", created=t(2026, 11, 15, 10))
run("adhoc", "failed", trigger="manual", created=t(2026, 11, 16, 11), late=3, mode="staging",
    reason="step extract failed | exit 3")
patch = run("fix-address", "succeeded", trigger="manual", created=t(2026, 11, 25, 14), late=68400)
waiting = run("fix-address", "awaiting_approval", trigger="manual", created=t(2026, 11, 28, 9))

sql.append("SET client_min_messages = warning;")
for tbl in ["runbook_revisions", "runs", "jobs", "incidents", "approval_requests", "approvals",
            "artifacts", "sql_results", "backup_evidence", "effort_entries", "leader_spans",
            "runbook_gates", "contract"]:
    sql.append(f"ALTER TABLE yoban.{tbl} DISABLE TRIGGER USER;")
sql.append("INSERT INTO yoban.runbook_revisions (id, runbook, sha256, content) OVERRIDING SYSTEM VALUE"
           " VALUES (1, 'fix-address', encode(sha256('v1'::bytea), 'hex'), 'v1'::bytea);")
sql.append("INSERT INTO yoban.runbook_gates (runbook, revision_id, kind, approvers) VALUES ('fix-address', 1, 'data-patch', 2);")
for r in runs:
    sql.append("INSERT INTO yoban.runs (id, runbook, revision_id, trigger, mode, scheduled_for, state, requested_by, reason, created_at, started_at, ended_at)"
               f" OVERRIDING SYSTEM VALUE VALUES ({r['id']}, {q(r['runbook'])}, {1 if r['runbook'] == 'fix-address' else 'NULL'}, {q(r['trigger'])}, {q(r['mode'])},"
               f" {ts(r['sched'])}, {q(r['state'])}, {q('tanaka' if r['runbook'] == 'fix-address' else 'yoband')}, {q(r['reason'])}, {ts(r['created'])}, {ts(r['started'])}, {ts(r['ended'])});")
for i, j in enumerate(jobs, 1):
    step = "patch" if j["run"] == patch else j["step"]
    sql.append("INSERT INTO yoban.jobs (id, run_id, step, step_index, host, state, exit_status, started_at, ended_at, stdout_bytes, stdout_sha256)"
               f" OVERRIDING SYSTEM VALUE VALUES ({i}, {j['run']}, {q(step)}, 0, {q('db1' if j['run'] == patch else j['host'])}, {q(j['state'])},"
               f" {0 if j['state'] == 'succeeded' else 3}, {ts(j['started'])}, {ts(j['ended'])}, 12, encode(sha256('out {i}'::bytea), 'hex'));")
patch_job = next(i for i, j in enumerate(jobs, 1) if j["run"] == patch)
patch_reason = '住所コード訂正 <script>alert("x")</script> & ' + chr(39) + 'q' + chr(39)
# the patch: requested by tanaka, approved by suzuki and sato; before/after sets as artifacts
sql.append("INSERT INTO yoban.approval_requests (run_id, runbook, revision_id, revision_sha256, procedure, procedure_sha256, approvers, lead_time, reason, requested_by, requested_at, state, approved_at, decided_at)"
           f" VALUES ({patch}, 'fix-address', 1, encode(sha256('v1'::bytea), 'hex'), 'procedures/fix-address.md', encode(sha256('proc'::bytea), 'hex'), 2, '0', "
           f"{q(patch_reason)}, 'tanaka', {ts(t(2026, 11, 25, 14))}, 'started', {ts(t(2026, 11, 25, 16))}, {ts(t(2026, 11, 26, 9))});")
sql.append("INSERT INTO yoban.approval_requests (run_id, runbook, revision_id, revision_sha256, approvers, lead_time, reason, requested_by, requested_at)"
           f" VALUES ({waiting}, 'fix-address', 1, encode(sha256('v1'::bytea), 'hex'), 2, '0', 'second batch', 'tanaka', {ts(t(2026, 11, 28, 9))});")
sql.append(f"INSERT INTO yoban.approvals (run_id, approver, comment, revision_id, at) VALUES ({patch}, 'suzuki', 'procedure checked', 1, {ts(t(2026, 11, 25, 15))}),"
           f" ({patch}, 'sato', NULL, 1, {ts(t(2026, 11, 25, 16))});")
for name, content in [("before", "id,address_code\r\n1,0123\r\n"), ("after", "id,address_code\r\n1,0132\r\n")]:
    sql.append(f"INSERT INTO yoban.artifacts (job_id, name, content, bytes, rows, sha256) VALUES ({patch_job}, '{name}', convert_to({q(content)}, 'UTF8'),"
               f" octet_length(convert_to({q(content)}, 'UTF8')), 1, encode(sha256(convert_to({q(content)}, 'UTF8')), 'hex'));")
sql.append(f"INSERT INTO yoban.sql_results (job_id, outcome, patch_rows, message) VALUES ({patch_job}, 'committed', 1, 'committed 1 row');")

# incidents: (id, run, detected, notified+, ack+, recovered+, resolved+) in minutes
def mins(m): return None if m is None else dt.timedelta(minutes=m)
incidents = [
    (1, nightly[9], "failure", t(2026, 11, 9, 1, 3, 1), 10, 60, 180, 200, 'run 9 of nightly failed: <disk> & "quota"'),
    (2, nightly[10], "timeout", t(2026, 11, 10, 1, 7, 0), 45, 90, 420, 430, "run 10 of nightly timed out"),
    (3, missed, "missed", t(2026, 11, 20, 1, 0, 30), 5, 180, 240, None, "run of nightly missed its fire"),
    (4, None, "failure", t(2026, 10, 31, 23, 0), 5, 10, 20, 30, "October's"),
    (5, None, "lost", t(2026, 11, 30, 23, 59), None, None, None, None, "the last night's"),
]
for (iid, rid, ev, det, n, a, rec, res, summ) in incidents:
    d = lambda m: ts(None if m is None else det + mins(m))
    resolved = res is not None
    sql.append("INSERT INTO yoban.incidents (id, run_id, runbook, event, summary, detected_at, notified_at, acknowledged_at, acknowledged_by, recovered_at, resolved_at, resolved_by, cause, temporary_fix, permanent_fix)"
               f" OVERRIDING SYSTEM VALUE VALUES ({iid}, {rid or 'NULL'}, 'nightly', '{ev}', {q(summ)}, {ts(det)}, {d(n)}, {d(a)}, {q('ops' if a else None)}, {d(rec)},"
               f" {d(res)}, {q('ops' if resolved else None)}, {q('disk full' if resolved else None)}, {q('cleaned' if resolved else None)}, {q('quota alert' if resolved else None)});")
sla = {"report": 30, "start": 120, "recover": 360}
exp_incidents = {}
for (iid, rid, ev, det, n, a, rec, res, summ) in incidents:
    if not (month_from <= det < month_to): continue
    states = {}
    for clock, off in (("report", n), ("start", a), ("recover", rec)):
        due = det + mins(sla[clock])
        done = None if off is None else det + mins(off)
        states[clock] = ("met" if done <= due else "breached") if done else ("breached" if now > due else "running")
    exp_incidents[iid] = dict(states=states, passed="breached" not in states.values())

# backups: (day, event, generation, ok, verified)
bk = []
for day, gen in [(3, 1), (4, 2), (5, 3), (6, 4)]:
    bk.append((day, "backup", gen, True, True, "file-backup"))
bk.append((6, "prune", 1, True, False, "file-backup"))
bk.append((7, "backup", None, False, False, "file-backup"))
bk.append((30, "offsite", 4, True, False, "file-offsite"))
for (day, ev, gen, ok, ver, rb) in bk:
    at = t(2026, 11, day, 2)
    g = f"gen-{gen:06d}-202611{day - 1:02d}T170000Z" if gen else None
    if ev == "prune": g = "gen-000001-20261102T170000Z"
    detail = '{"kind": "backup"}' if ev == "prune" else "{}"
    sql.append("INSERT INTO yoban.backup_evidence (recorded_at, event, runbook, step, host, repository, generation, ok, error, verified_at, detail)"
               f" VALUES ({ts(at)}, '{ev}', '{rb}', 'share', 'local', '/srv/backup/repo', {q(g)}, {str(ok).lower()}, {q(None if ok else 'disk full')}, {ts(at if ver else None)}, '{detail}');")
exp_backups, kept = [], 0
for (day, ev, gen, ok, ver, rb) in bk:
    kept += 1 if (ev == "backup" and ok) else -1 if ev == "prune" else 0
    key = (f"2026-11-{day:02d}", rb)
    if not exp_backups or exp_backups[-1]["key"] != key:
        exp_backups.append(dict(key=key, backups=0, backups_ok=0, verified=0, pruned=0, offsite_ok=0))
    e = exp_backups[-1]
    e["backups"] += ev == "backup"; e["backups_ok"] += ev == "backup" and ok
    e["verified"] += ev == "backup" and ok and ver; e["pruned"] += ev == "prune"
    e["offsite_ok"] += ev == "offsite" and ok; e["generations"] = kept

# effort: (id, person, date, hours, category, corrects)
ef = [(1, "tanaka", dt.date(2026, 11, 3), -4, "service", 2),
      (2, "tanaka", dt.date(2026, 11, 2), 8, "service", None),
      (3, "sato", dt.date(2026, 10, 15), 7.5, "service", None),
      (4, "sato", dt.date(2026, 3, 31), 8, "service", None),
      (5, "sato", dt.date(2026, 11, 12), 12.5, "modification", None),
      (6, "ops", dt.date(2026, 11, 9), 6, "incident", None),
      (7, "ops", dt.date(2026, 12, 1), 3, "incident", None)]
ef += [(8 + i, "tanaka", dt.date(2026, 11, 4 + i), 8, "service", None) for i in range(12)]
ef.sort(key=lambda e: e[5] is not None)  # the corrected entry goes in first
for (eid, who, day, h, cat, corr) in ef:
    sql.append("INSERT INTO yoban.effort_entries (id, person, work_date, hours, category, corrects) OVERRIDING SYSTEM VALUE"
               f" VALUES ({eid}, '{who}', '{day}', {h}, '{cat}', {corr or 'NULL'});")
sql.append("""UPDATE yoban.contract SET period_from = '2026-04-01', period_to = '2027-12-31', hours_per_day = 8, days_per_month = 20,
  caps = '{"service": {"per_month": 3, "total": 48}, "modification": {"per_month": 1, "total": 12}, "incident": {"per_month": 1}}';""")
exp_effort = {}
for cat in ("service", "incident", "modification"):
    m = sum(h for (_, _, d, h, c, _) in ef if c == cat and dt.date(2026, 11, 1) <= d < dt.date(2026, 12, 1))
    tot = sum(h for (_, _, d, h, c, _) in ef if c == cat and dt.date(2026, 4, 1) <= d < dt.date(2026, 12, 1))
    exp_effort[cat] = dict(hours=m, person_days=m / 8, person_months=m / 160, total_hours=tot)

# leader spans: a 60-minute gap on Nov 10, and none during the maintenance window of Nov 20
spans = [(t(2026, 10, 31, 23), t(2026, 11, 10, 3)), (t(2026, 11, 10, 4), t(2026, 11, 20, 0)),
         (t(2026, 11, 20, 2), t(2026, 12, 1, 1))]
for i, (a, b) in enumerate(spans):
    sql.append(f"INSERT INTO yoban.leader_spans (instance, from_at, to_at) VALUES ('test-{i}', {ts(a)}, {ts(b)});")
maint = (t(2026, 11, 20, 0), t(2026, 11, 20, 2))
counted = (month_to - month_from).total_seconds() / 60 - (maint[1] - maint[0]).total_seconds() / 60
down, cur = 0.0, month_from
for (a, b) in spans:  # gaps between spans, outside the maintenance window
    if a > cur:
        gap_a, gap_b = cur, min(a, month_to)
        overlap = max(dt.timedelta(0), min(gap_b, maint[1]) - max(gap_a, maint[0]))
        down += ((gap_b - gap_a) - overlap).total_seconds() / 60
    cur = max(cur, b)
for tbl in ["runbook_revisions", "runs", "jobs", "incidents", "effort_entries"]:  # ids given above
    sql.append(f"SELECT setval(pg_get_serial_sequence('yoban.{tbl}', 'id'), (SELECT max(id) FROM yoban.{tbl}));")
for tbl in ["runbook_revisions", "runs", "jobs", "incidents", "approval_requests", "approvals",
            "artifacts", "sql_results", "backup_evidence", "effort_entries", "leader_spans",
            "runbook_gates", "contract"]:
    sql.append(f"ALTER TABLE yoban.{tbl} ENABLE TRIGGER USER;")

# expected run figures, from the list of runs
inm = lambda r: month_from <= (r["sched"] or r["created"]) < month_to
by_state = {}
for r in runs:
    if inm(r): by_state[r["state"]] = by_state.get(r["state"], 0) + 1
sched = [r for r in runs if r["trigger"] == "schedule" and month_from <= r["sched"] < month_to
         and not (r["state"] == "skipped" and not r["reason"].startswith("missed"))]
late = sorted((r["started"] - r["sched"]).total_seconds() for r in sched if r["started"])
def pct(p):  # percentile_cont's definition: linear between the ranks around p * (n - 1)
    x = p * (len(late) - 1); lo = int(x); hi = min(lo + 1, len(late) - 1)
    return late[lo] + (late[hi] - late[lo]) * (x - lo)
on_time = sum(1 for v in late if v <= 60)
month_jobs = [j for j in jobs if inm(runs[j["run"] - 1])]
expected = dict(
    by_state=by_state, total=sum(by_state.values()),
    jobs=len(month_jobs), jobs_not_ok=sum(1 for j in month_jobs if j["state"] != "succeeded"),
    scheduled=len(sched), started=len(late), on_time=on_time, on_time_percent=100 * on_time / len(sched),
    p50=pct(0.5), p99=pct(0.99), max=max(late),
    failures=sorted(r["id"] for r in runs if inm(r) and r["state"] in ("failed", "timed_out", "lost")),
    incidents={str(k): v for k, v in exp_incidents.items()},
    backups=[dict(e, key=list(e["key"])) for e in exp_backups], effort=exp_effort,
    availability=dict(minutes=counted, down=down, percent=100 * (counted - down) / counted),
    patch=patch, patch_job=patch_job)
open(f"{work}/seed.sql", "w").write("\n".join(sql) + "\n")
json.dump(expected, open(f"{work}/expected.json", "w"), indent=1, sort_keys=True)
PY
PGDATABASE=yoban pg_psql -f "$work/seed.sql" >/dev/null || bail "the seed"
chain=$(PGDATABASE=yoban pg_psql -c "SELECT to_regclass('yoban.evidence_chain') IS NOT NULL")

# ---- the JSON against the expected figures -----------------------------------------------------
yb report monthly 2026-11 --format json >"$work/got.json" 2>"$work/err.txt"
check "report monthly --format json exits 0" 0 "$?" || cat "$work/err.txt"
compare() { # NAME EXPR [GOT]: EXPR over e (expected) and g (GOT, default got.json) prints "want|got"
  local out
  out=$($PY -c '
import json, sys
e = json.load(open(sys.argv[1])); g = json.load(open(sys.argv[2]))
def r(x, n=6): return None if x is None else float(round(x, n))
print(eval(sys.argv[3]))' "$work/expected.json" "${3:-$work/got.json}" "$2" 2>&1)
  if [[ $out != *"|"* ]]; then # the expression failed: never a pass
    check "$1" "(a comparison)" "$out"
    return
  fi
  check "$1" "${out%%|*}" "${out#*|}"
}
compare "the month is cut in the site's zone" \
  '"Asia/Tokyo 2026-11-01T00:00:00+09:00 False|%s %s %s" % (g["time_zone"], g["from"], g["partial"])'
compare "runs by state" \
  '"%s|%s" % (sorted(e["by_state"].items()), sorted((k, v) for k, v in g["runs"]["by_state"].items() if v))'
compare "runs in all" '"%d|%d" % (e["total"], g["runs"]["total"])'
compare "runs of the boundary runbook: only the one at 2026-11-01 00:00 JST" \
  '"1|%d" % next(b["total"] for b in g["runs"]["by_runbook"] if b["runbook"] == "boundary")'
compare "runs per day add up to the total" \
  '"%d|%d" % (e["total"], sum(d["succeeded"] + d["failed"] + d["cancelled_or_skipped"] + d["not_ended"] for d in g["runs"]["per_day"]))'
compare "30 days in November" '"30|%d" % len(g["runs"]["per_day"])'
compare "jobs and jobs not succeeded" '"%d %d|%d %d" % (e["jobs"], e["jobs_not_ok"], g["runs"]["jobs"]["total"], g["runs"]["jobs"]["not_succeeded"])'
compare "scheduled, started, on time" \
  '"%d %d %d|%d %d %d" % (e["scheduled"], e["started"], e["on_time"], g["schedule"]["scheduled"], g["schedule"]["started"], g["schedule"]["on_time"])'
compare "on-time share" '"%s|%s" % (r(e["on_time_percent"]), r(g["schedule"]["on_time_percent"]))'
compare "lateness p50, p99, max" \
  '"%s %s %s|%s %s %s" % (r(e["p50"]), r(e["p99"]), r(e["max"]), r(g["schedule"]["lateness_seconds"]["p50"]), r(g["schedule"]["lateness_seconds"]["p99"]), r(g["schedule"]["lateness_seconds"]["max"]))'
compare "the failures listed" '"%s|%s" % (e["failures"], [f["run_id"] for f in g["failures"]])'
compare "incidents of the month, each clock and its pass or fail" \
  '"%s|%s" % (sorted((k, sorted(v["states"].items()), v["passed"]) for k, v in e["incidents"].items()), sorted((str(i["id"]), sorted((c, s["state"]) for c, s in i["clocks"].items()), i["pass"]) for i in g["incidents"]["list"]))'
compare "SLA figures from the site config" '"30m 2h 6h False|%s %s %s %s" % (g["incidents"]["sla"]["report"], g["incidents"]["sla"]["start"], g["incidents"]["sla"]["recover"], g["incidents"]["sla"]["default"])'
compare "the data patch: requester, approvers, evidence" \
  '"tanaka suzuki,sato 3 committed|%s %s %d %s" % next((p["requested_by"], ",".join(a["by"] for a in p["approvals"]), len(p["evidence"]), p["sql_outcome"]) for p in g["data_patches"] if p["run_id"] == e["patch"])'
compare "the patch waiting for approval is listed too" '"2|%d" % len(g["data_patches"])'
compare "the before set's digest is the artifact's" \
  '"%s|%s" % (__import__("hashlib").sha256(b"id,address_code\r\n1,0123\r\n").hexdigest(), next(d["sha256"] for p in g["data_patches"] for d in p["evidence"] if d["label"] == "patch/before"))'
compare "backups per day: ok, verified, pruned, off-site, generations kept" \
  '"%s|%s" % ([(b["key"], b["backups"], b["backups_ok"], b["verified"], b["pruned"], b["offsite_ok"], b["generations"]) for b in e["backups"]], [([b["date"], b["runbook"]], b["backups"], b["backups_ok"], b["verified"], b["pruned"], b["offsite_ok"], b["generations"]) for b in g["backups"]])'
compare "effort per category: hours, person-days, hours since the contract began" \
  '"%s|%s" % (sorted((k, r(v["hours"], 2), r(v["person_days"], 2), r(v["total_hours"], 2)) for k, v in e["effort"].items()), sorted((c["category"], r(c["hours"], 2), r(c["person_days"], 2), r(c["total_hours"], 2)) for c in g["effort"]["categories"]))'
compare "effort per category: person-months (to 2 decimals)" \
  '"True|%s" % all(abs(c["person_months"] - e["effort"][c["category"]]["person_months"]) <= 0.0051 for c in g["effort"]["categories"])'
compare "effort caps: service 3 a month and 48 in all; incident recovery uncapped whatever the contract says" \
  '"3.0 48.0 None None|%s %s %s %s" % (tuple([c for c in g["effort"]["categories"] if c["category"] == "service"][0][k] for k in ("cap_month", "cap_total")) + tuple([c for c in g["effort"]["categories"] if c["category"] == "incident"][0][k] for k in ("cap_month", "cap_total")))'
compare "availability: minutes, down minutes, percent, against 99.9" \
  '"%s %s %s False|%s %s %s %s" % (r(e["availability"]["minutes"], 3), r(e["availability"]["down"], 3), r(e["availability"]["percent"], 4), r(g["availability"]["minutes"], 3), r(g["availability"]["down_minutes"], 3), r(g["availability"]["percent"], 4), g["availability"]["met"])'
compare "the maintenance window is named" '"1|%d" % len(g["availability"]["maintenance"])'
if [ "$chain" = t ]; then
  compare "the evidence chain (013): no entry before November's end (the seed bypassed it)" \
    '"True None|%s %s" % (g["chain"]["recorded"], g["chain"]["head"])'
  # One record through the chain's own trigger now, and a checkpoint of it: December's report
  # (this month) shows both.
  PGDATABASE=yoban pg_psql -c "INSERT INTO yoban.effort_entries (person, work_date, hours, category) VALUES ('ops', '2026-12-02', 1, 'service')" ||
    bail "an effort entry through the chain"
  "$YB_BIN/yoban" checkpoint keygen -o "$work/site.key" >/dev/null || bail "checkpoint keygen"
  yb checkpoint -o "$work/cp.json" --key "$work/site.key" >/dev/null 2>"$work/err.txt" ||
    { cat "$work/err.txt"; bail "a checkpoint"; }
  month_now=$(TZ=Asia/Tokyo date +%Y-%m)
  yb report monthly "$month_now" --format json >"$work/now.json"
  check "this month's report: exit 0" 0 "$?"
  head=$(PGDATABASE=yoban pg_psql -c "SELECT seq || ' ' || encode(hash, 'hex') FROM yoban.evidence_chain ORDER BY seq DESC LIMIT 1")
  compare "this month's report names the chain head and the checkpoint of it" \
    '"'"$head $head"'|%s %s %s %s" % (g["chain"]["head"]["seq"], g["chain"]["head"]["hash"], g["chain"]["checkpoint"]["seq"], g["chain"]["checkpoint"]["hash"])' "$work/now.json"
  yb report monthly "$month_now" --format html -o "$work/now.html"
  contains "html: the chain head's hash in full" "${head#* }" "$(cat "$work/now.html")"
else
  compare "no evidence chain in this database: not recorded" '"False None|%s %s" % (g["chain"]["recorded"], g["chain"]["head"])'
fi

# ---- a site without contract.sla: the domain's figures, said so ----------------------------------
grep -v -e '^contract:' -e '^  sla:' "$work/yoban.yaml" >"$work/nosla.yaml"
yb report monthly 2026-11 --format json --config "$work/nosla.yaml" >"$work/nosla.json"
check "without contract.sla: exit 0" 0 "$?"
compare "without contract.sla: 30m, 2h, 6h and 99.9 %, marked as the default" \
  '"30m 2h 6h True 99.9|%s %s %s %s %s" % (g["incidents"]["sla"]["report"], g["incidents"]["sla"]["start"], g["incidents"]["sla"]["recover"], g["incidents"]["sla"]["default"], g["availability"]["target_percent"])' "$work/nosla.json"

# ---- the same month in another zone ---------------------------------------------------------------
yb report monthly 2026-11 --format json --tz UTC >"$work/utc.json"
check "--tz UTC exits 0" 0 "$?"
check "--tz UTC cuts the month in UTC" "UTC 2026-11-01T00:00:00+00:00" \
  "$($PY -c 'import json,sys; g=json.load(open(sys.argv[1])); print(g["time_zone"], g["from"])' "$work/utc.json")"

# ---- Markdown, CSV, HTML in both languages --------------------------------------------------------
for lang in ja en; do
  for f in md csv html; do
    yb report monthly 2026-11 --format "$f" --lang "$lang" -o "$work/report-$lang.$f" 2>"$work/err.txt"
    check "--format $f --lang $lang exits 0" 0 "$?" || cat "$work/err.txt"
  done
done
check "-o leaves no temporary file behind" "" "$(ls "$work" | grep '\.tmp' || true)"
md=$(cat "$work/report-ja.md")
contains "md: the Japanese title and month" "# 月次運用報告書 2026年（令和8年）11月" "$md"
contains "md: the on-time definition" "60 秒以内" "$md"
contains "md: a '|' in a reason does not split the table" 'extract failed \| exit 3' "$md"
contains "md en: dates in ISO" "2026-11-09 01:03" "$(cat "$work/report-en.md")"
csvcheck=$($PY - "$work/report-ja.csv" "$work/expected.json" <<'PY'
import csv, json, sys
patch = str(json.load(open(sys.argv[2]))["patch"])
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8")))
bad = [r for r in rows if len(r) != 4]
get = {(r[0], r[1], r[2]): r[3] for r in rows}
print(len(bad), rows[0], get[("runs", "*", "total")], get[("availability", "", "met")],
      get[("data_patches", patch, "reason")].startswith("住所コード訂正 <script>"))
PY
)
check "csv: four fields a row, the figures, quoted text read back whole" \
  "0 ['section', 'key', 'field', 'value'] $($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["total"])' "$work/expected.json") false True" "$csvcheck"
html=$(cat "$work/report-ja.html")
contains "html ja: the lang attribute" '<html lang="ja">' "$html"
contains "html ja: Japanese dates" "2026年11月9日 01:03" "$html"
contains "html ja: a percent with a space" "99.861 %" "$html"
contains "html ja: 1,234 grouping" "43,080" "$html"
contains "html: text from the database is escaped" "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;" "$html"
lacks "html: no script from the database" '<script>alert' "$html"
contains "html: the summary's escaped angle brackets" "&lt;disk&gt; &amp; &quot;quota&quot;" "$html"
contains "html: printable on A4" "@page { size: A4;" "$html"
contains "html: charts are inline SVG" "<svg class=\"chart\"" "$html"
lacks "html: nothing external" 'src="http' "$html"
lacks "html: no link element" '<link ' "$html"
contains "html en: English labels" "Monthly operations report November 2026" "$(cat "$work/report-en.html")"
contains "html: no chain entry before November's end: not recorded" "記録なし" "$html"

# ---- progress: on a terminal only ------------------------------------------------------------
yb report monthly 2026-11 --format json -o "$work/quiet.json" 2>"$work/quiet.err"
check "no progress when stderr is not a terminal" "" "$(cat "$work/quiet.err")"
tty_out=$(PGUSER=carol script -qec "$YB_BIN/yoban report monthly 2026-11 --format json -o $work/tty.json" /dev/null)
contains "progress on a terminal: each section and its time" "yoban report: incidents" "$tty_out"
contains "progress on a terminal: the end" "yoban report: written" "$tty_out"

# ---- errors a user meets ----------------------------------------------------------------------
out=$(yb report monthly 2026-13 2>&1); st=$?
check "a month 13 is a usage error" 2 "$st"
contains "and says what a month looks like" "not '2026-13'" "$out"
out=$(yb report monthly 2026-11 --format pdf 2>&1); st=$?
check "an unknown format is a usage error" 2 "$st"
contains "and names the formats" "html, md, csv or json" "$out"
out=$(yb report yearly 2026 2>&1); st=$?
check "an unknown report is a usage error" 2 "$st"
out=$(yb report monthly 2026-11 --tz Mars/Olympus 2>&1); st=$?
check "an unknown --tz is refused" 2 "$st"
contains "naming the zone" "Mars/Olympus" "$out"
sed "s|^database: .*|database: \"host=$work/nowhere dbname=yoban\"|" "$work/yoban.yaml" >"$work/nodb.yaml"
out=$(yb report monthly 2026-11 --config "$work/nodb.yaml" -o "$work/none.html" 2>&1); st=$?
check "no database: exit 1" 1 "$st"
contains "and says it cannot connect" "cannot connect to the yoban database" "$out"
check_status "no database: no file written" 1 test -e "$work/none.html"
PGUSER=nobody_here "$YB_BIN/yoban" report monthly 2026-11 >/dev/null 2>&1
check "an unknown login fails" 1 "$?"

# ---- the HTML in headless Chromium at A4 width ------------------------------------------------
check_status "chromium is installed (deploy/install-deps.sh)" 0 test -x /usr/bin/chromium
artifacts=${YB_BUILD_DIR:-$work}/test-artifacts/report
mkdir -p "$artifacts"
cp "$work/report-ja.html" "$artifacts/report-2026-11.ja.html"
cp "$work/report-en.html" "$artifacts/report-2026-11.en.html"
for lang in ja en; do
  probe=$work/probe-$lang.html
  sed 's|</body></html>|<script>(function(){var b=document.body.getBoundingClientRect(),bad=[],all=document.body.querySelectorAll("*");for(var i=0;i<all.length;i++){var r=all[i].getBoundingClientRect();if(r.width>0\&\&(r.right>b.right+0.5\|\|r.left<b.left-0.5))bad.push(all[i].tagName+"."+all[i].getAttribute("class")+"@"+Math.round(r.right));}var d=document.documentElement,p=document.createElement("pre");p.textContent="OVERFLOW"+"-CHECK body="+Math.round(b.width)+" wider="+(d.scrollWidth>d.clientWidth)+" bad="+bad.length+" "+bad.slice(0,8).join(" ");document.body.appendChild(p);})();</script></body></html>|' \
    "$work/report-$lang.html" >"$probe"
  profile=$(mktemp -d "$work/chromium.XXXXXX")
  timeout 120 /usr/bin/chromium --headless --no-sandbox --disable-gpu --user-data-dir="$profile" \
    --window-size=794,1123 --virtual-time-budget=3000 --dump-dom "file://$probe" \
    >"$work/dom-$lang.html" 2>"$work/chromium-$lang.log"
  check "chromium rendered the $lang report" 0 "$?" || tail -5 "$work/chromium-$lang.log"
  line=$(grep -o 'OVERFLOW-CHECK[^<]*' "$work/dom-$lang.html")
  matches "$lang: no element past the A4 content width (182 mm = 688 px)" \
    'OVERFLOW-CHECK body=6[0-9][0-9] wider=false bad=0 ' "$line"
  rm -rf "$profile"
done
profile=$(mktemp -d "$work/chromium.XXXXXX")
timeout 120 /usr/bin/chromium --headless --no-sandbox --disable-gpu --user-data-dir="$profile" \
  --window-size=794,2400 --hide-scrollbars --screenshot="$artifacts/report-2026-11.ja.png" \
  "file://$artifacts/report-2026-11.ja.html" >"$work/shot.log" 2>&1
check_status "a screenshot is kept" 0 test -s "$artifacts/report-2026-11.ja.png"
timeout 120 /usr/bin/chromium --headless --no-sandbox --disable-gpu --user-data-dir="$profile" \
  --no-pdf-header-footer --print-to-pdf="$artifacts/report-2026-11.ja.pdf" \
  "file://$artifacts/report-2026-11.ja.html" >"$work/pdf.log" 2>&1
pages=$($PY -c 'import re,sys; print(len(re.findall(rb"/Type\s*/Page[^s]", open(sys.argv[1], "rb").read())))' "$artifacts/report-2026-11.ja.pdf" 2>/dev/null)
check_status "printed to A4, a page (at least) for each of the 9 sections ($pages pages)" 0 test "${pages:-0}" -ge 9
rm -rf "$profile"
echo "# artifacts (HTML, the screenshot, the printed PDF): $artifacts"
finish
