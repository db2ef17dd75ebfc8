#!/usr/bin/env bash
# The monthly report's benchmark (issue 12 §3): a real PostgreSQL (lib/pg.sh) seeded with one
# month of RUNS runs and JOBS jobs (generate_series, triggers off during the seed; a few failures,
# incidents, data patches with approvals and artifacts, backups and effort entries), then, in the
# same run:
#   baseline  psql \copy of the month's jobs (joined to their runs) to /dev/null: reading every
#             row of the month once, which a report that pulled rows through libpq would cost
#   json      yoban report monthly MONTH --format json
#   html      yoban report monthly MONTH --format html -o FILE
# each timed REPEAT times (best and median printed), with the machine's load. Target: < 10 s.
# Paste its output, the date and the command into docs/benchmarks.md.
#   tests/bench/run_report.sh [--runs 100000] [--jobs 1000000] [--repeat 3]
# Builds Release in build-bench/ (as run_backup.sh and run_cron.sh do).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
runs=100000 jobs=1000000 repeat=3
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    *) echo "run_report.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
./deploy/install-deps.sh
bdir=${YB_BENCH_DIR:-$here/build-bench}
cmake -S . -B "$bdir" -DCMAKE_BUILD_TYPE=Release -DYB_SANITIZE=OFF -DYB_FUZZ=OFF >/dev/null
cmake --build "$bdir" -j2 --target yoban >/dev/null
yoban=$bdir/bin/yoban
export YB_BIN=$bdir/bin
. tests/integration/lib/pg.sh
pg_start >/dev/null
pg_psql -c "CREATE DATABASE yoban"
"$yoban" db migrate --database "host=$PGHOST dbname=yoban user=postgres" >/dev/null
PGDATABASE=yoban pg_psql -c "SELECT yoban.yoban_grant_login('reviewer', ARRAY['yoban_reviewer'])" >/dev/null
work=$PG_BASE/bench
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
month=2026-11
now() { date +%s.%N; }
secs() { python3 -c "print('%.2f' % ($2 - $1))"; }

# ---- the month: RUNS runs over 200 runbooks, JOBS jobs spread over them ------------------------
t0=$(now)
PGDATABASE=yoban pg_psql -v runs="$runs" -v jobs="$jobs" >/dev/null <<'SQL'
SET client_min_messages = warning;
DO $$ DECLARE t text; BEGIN
  FOREACH t IN ARRAY ARRAY['runs', 'jobs', 'incidents', 'approval_requests', 'approvals',
    'artifacts', 'backup_evidence', 'effort_entries', 'leader_spans', 'runbook_revisions',
    'runbook_gates'] LOOP
    EXECUTE format('ALTER TABLE yoban.%I DISABLE TRIGGER USER', t);
  END LOOP; END $$;
INSERT INTO yoban.runbook_revisions (runbook, sha256, content)
  VALUES ('patch-0', encode(sha256('v'::bytea), 'hex'), 'v'::bytea);
INSERT INTO yoban.runbook_gates (runbook, revision_id, kind, approvers) VALUES ('patch-0', 1, 'data-patch', 1);
-- runs: every 25.9 s through November (JST), 200 runbooks; 1 % failed, 0.5 % skipped on a
-- closed day, lateness 0-90 s
INSERT INTO yoban.runs (runbook, trigger, scheduled_for, state, reason, created_at, started_at, ended_at)
SELECT 'batch-' || (g % 200), 'schedule', s, st,
       CASE st WHEN 'failed' THEN 'step main failed (exit 1)' WHEN 'skipped' THEN 'closed day' END,
       s, CASE WHEN st <> 'skipped' THEN s + (g % 91) * interval '1 second' END,
       CASE WHEN st <> 'skipped' THEN s + (g % 91 + 60) * interval '1 second' END
FROM generate_series(1, :runs) g,
     LATERAL (SELECT '2026-11-01 00:00+09'::timestamptz + (g - 1) * (interval '30 days' / :runs) AS s,
                     (CASE WHEN g % 100 = 7 THEN 'failed' WHEN g % 200 = 3 THEN 'skipped'
                           ELSE 'succeeded' END)::yoban.run_state AS st) x;
-- jobs: JOBS / RUNS steps per run, on one host each
INSERT INTO yoban.jobs (run_id, step, step_index, host, state, exit_status, started_at, ended_at,
                        stdout_bytes, stdout_sha256)
SELECT r.id, 'step-' || k, k, 'app' || (r.id % 8), CASE WHEN r.state = 'failed' AND k = 0
       THEN 'failed' ELSE 'succeeded' END::yoban.job_state, 0, r.started_at, r.ended_at, 1024,
       md5(r.id::text) || md5(k::text)
FROM yoban.runs r CROSS JOIN generate_series(0, (:jobs / :runs) - 1) k WHERE r.started_at IS NOT NULL;
-- skipped runs have no jobs: second attempts of a first step make up the count
INSERT INTO yoban.jobs (run_id, step, step_index, host, attempt, state, exit_status, started_at,
                        ended_at, stdout_bytes, stdout_sha256)
SELECT r.id, 'step-0', 0, 'app' || (r.id % 8), 2, 'succeeded', 0, r.started_at, r.ended_at, 1024,
       md5(r.id::text) || md5('retry')
FROM yoban.runs r WHERE r.started_at IS NOT NULL ORDER BY r.id
LIMIT greatest(0, :jobs - (SELECT count(*) FROM yoban.jobs));
-- an incident for every failed run, half of them late to recover
INSERT INTO yoban.incidents (run_id, runbook, event, summary, detected_at, notified_at,
  acknowledged_at, acknowledged_by, recovered_at, resolved_at, resolved_by, cause, temporary_fix, permanent_fix)
SELECT r.id, r.runbook, 'failure', 'run ' || r.id || ' failed', r.ended_at, r.ended_at + interval '5 min',
       r.ended_at + interval '40 min', 'ops', r.ended_at + (r.id % 2 * 6 + 1) * interval '1 hour',
       r.ended_at + interval '8 hours', 'ops', 'cause', 'fix', 'prevention'
FROM yoban.runs r WHERE r.state = 'failed';
-- 30 data patches, each with two approvals and two artifacts
INSERT INTO yoban.runs (runbook, revision_id, trigger, state, created_at, started_at, ended_at, requested_by)
SELECT 'patch-0', 1, 'manual', 'succeeded', '2026-11-01 10:00+09'::timestamptz + g * interval '1 day',
       '2026-11-01 11:00+09'::timestamptz + g * interval '1 day',
       '2026-11-01 11:01+09'::timestamptz + g * interval '1 day', 'tanaka'
FROM generate_series(0, 29) g;
INSERT INTO yoban.approval_requests (run_id, runbook, revision_id, revision_sha256, approvers, lead_time, requested_by, requested_at, state)
SELECT id, runbook, 1, encode(sha256('v'::bytea), 'hex'), 1, '0', 'tanaka', created_at, 'started'
FROM yoban.runs WHERE runbook = 'patch-0';
INSERT INTO yoban.approvals (run_id, approver, revision_id, at)
SELECT a.run_id, p, 1, a.requested_at + interval '10 min' FROM yoban.approval_requests a, unnest(ARRAY['suzuki', 'sato']) p;
INSERT INTO yoban.jobs (run_id, step, step_index, host, state, exit_status, stdout_bytes, stdout_sha256)
SELECT id, 'patch', 0, 'db1', 'succeeded', 0, 10, md5(id::text) || md5('x') FROM yoban.runs WHERE runbook = 'patch-0';
INSERT INTO yoban.artifacts (job_id, name, content, bytes, rows, sha256)
SELECT j.id, n, convert_to('id\r\n' || j.id, 'UTF8'), octet_length(convert_to('id\r\n' || j.id, 'UTF8')), 1,
       encode(sha256(convert_to('id\r\n' || j.id, 'UTF8')), 'hex')
FROM yoban.jobs j JOIN yoban.runs r ON r.id = j.run_id, unnest(ARRAY['before', 'after']) n WHERE r.runbook = 'patch-0';
-- a backup a day, verified, the fourth and later pruning one; a monthly off-site copy
INSERT INTO yoban.backup_evidence (recorded_at, event, runbook, step, host, repository, generation, ok, verified_at)
SELECT d, 'backup', 'file-backup', 'share', 'fs1', '/srv/repo', 'gen-' || lpad(g::text, 6, '0') || '-20261101T000000Z', true, d
FROM generate_series(1, 30) g, LATERAL (SELECT '2026-11-01 02:00+09'::timestamptz + (g - 1) * interval '1 day' AS d) x;
INSERT INTO yoban.backup_evidence (recorded_at, event, runbook, step, host, repository, generation, ok, detail)
SELECT '2026-11-01 02:01+09'::timestamptz + (g - 1) * interval '1 day', 'prune', 'file-backup', 'share', 'fs1', '/srv/repo',
       'gen-' || lpad((g - 3)::text, 6, '0') || '-20261101T000000Z', true, '{"kind": "backup"}'
FROM generate_series(4, 30) g;
INSERT INTO yoban.effort_entries (person, work_date, hours, category)
SELECT 'p' || (g % 5), date '2026-11-01' + (g % 30), 1 + g % 8, (ARRAY['service', 'incident', 'modification'])[1 + g % 3]::yoban.effort_category
FROM generate_series(1, 3000) g;
INSERT INTO yoban.leader_spans (instance, from_at, to_at) VALUES
  ('a', '2026-10-31 23:00+09', '2026-11-10 03:00+09'), ('a', '2026-11-10 03:20+09', '2026-12-01 01:00+09');
DO $$ DECLARE t text; BEGIN
  FOREACH t IN ARRAY ARRAY['runs', 'jobs', 'incidents', 'approval_requests', 'approvals',
    'artifacts', 'backup_evidence', 'effort_entries', 'leader_spans', 'runbook_revisions',
    'runbook_gates'] LOOP
    EXECUTE format('ALTER TABLE yoban.%I ENABLE TRIGGER USER', t);
  END LOOP; END $$;
VACUUM ANALYZE;
SQL
t1=$(now)
counts=$(PGDATABASE=yoban pg_psql -c "SELECT (SELECT count(*) FROM yoban.runs) || ' runs, ' || (SELECT count(*) FROM yoban.jobs) || ' jobs, ' || (SELECT count(*) FROM yoban.incidents) || ' incidents, ' || pg_size_pretty(pg_database_size('yoban'))")

median() { python3 -c "import statistics,sys; v=sorted(map(float, sys.argv[1:])); print('%.2f / %.2f' % (v[0], statistics.median(v)))" "$@"; }
measure() { # LABEL CMD...: runs CMD $repeat times, prints best / median seconds
  local label=$1 t=() i a b; shift
  for i in $(seq "$repeat"); do
    a=$(now); "$@" >/dev/null; b=$(now); t+=("$(secs "$a" "$b")")
  done
  printf '| %s | %s s |\n' "$label" "$(median "${t[@]}")"
}
copy_jobs() {
  PGDATABASE=yoban PGUSER=reviewer "$PG_BINDIR/psql" -X -q -c "\\copy (SELECT j.*, r.runbook, r.state AS run_state FROM yoban.jobs j JOIN yoban.runs r ON r.id = j.run_id WHERE coalesce(r.scheduled_for, r.created_at) >= '$month-01'::date::timestamptz AND coalesce(r.scheduled_for, r.created_at) < ('$month-01'::date + interval '1 month')::timestamptz) TO '/dev/null'"
}
report() { PGUSER=reviewer "$yoban" report monthly "$month" "$@"; }

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(uname -sr), PostgreSQL $(pg_psql -c 'SHOW server_version')"
echo "# tests/bench/run_report.sh --runs $runs --jobs $jobs --repeat $repeat (commit $(git rev-parse --short HEAD))"
echo "# seeded in $(secs "$t0" "$t1") s: $counts"
echo
echo "| $month, best / median of $repeat | seconds |"
echo "|---|---|"
measure "baseline: psql \\copy of the month's jobs to /dev/null" copy_jobs
measure "yoban report monthly --format json" report --format json
measure "yoban report monthly --format html -o FILE" report --format html -o "$work/report.html"
measure "yoban report monthly --format csv" report --format csv
echo
echo "# html: $(wc -c <"$work/report.html") bytes; load after: $(cut -d' ' -f1-3 /proc/loadavg)"
report --format json | python3 -c 'import json,sys; g=json.load(sys.stdin); print("# report: %d runs, %d jobs, %d failures, %d incidents, %d patches, on time %.2f %%, p50 %.1f s, p99 %.1f s, availability %.3f %%" % (g["runs"]["total"], g["runs"]["jobs"]["total"], len(g["failures"]), len(g["incidents"]["list"]), len(g["data_patches"]), g["schedule"]["on_time_percent"], g["schedule"]["lateness_seconds"]["p50"], g["schedule"]["lateness_seconds"]["p99"], g["availability"]["percent"]))'
