#!/usr/bin/env bash
# The yoband benchmarks of docs/benchmarks.md, each against a real PostgreSQL (lib/pg.sh) and
# the local runner, with the figures read back from the database or /proc:
#
#   lateness   RUNBOOKS runbooks firing every second (cron "* * * * * *") for SECONDS seconds:
#              how late each job was dispatched after its scheduled time (jobs.started_at -
#              runs.scheduled_for), p50 / p99 / max over every fire; also the claim (runs.created_at)
#   startup    N runbook files (daily schedules, generated in a temp dir): time from exec to
#              leadership and until every revision is recorded, RSS, idle CPU over IDLE seconds
#   output     one job writing 1 GiB (for each --content): MB/s from dispatch to the stored exit,
#              beside `psql \copy` of the same file into a table in the same run, and yoband's VmHWM
#   memory     JOBS jobs at once (one per local host), each writing BYTES of random bytes: yoband's
#              peak memory (VmHWM, sampled VmRSS) against its size before, and the rate
#   takeover   N runbook files (daily schedules) and one firing every second: a first daemon's
#              leadership -> first dispatch; then a standby started beside it, the leader killed
#              (SIGKILL): kill -> the standby leads -> its first dispatch (failover)
#
#   tests/bench/run_daemon.sh [all|lateness|startup|output|memory|takeover] [--runbooks 20]
#                             [--seconds 60] [--schedules "10000 100000"] [--idle 30]
#                             [--bytes 1073741824] [--content "logs random binary"] [--jobs 4]
#                             [--pg-fsync on|off] [--takeover "100000"]
#
# --content: logs (log lines, the default), random (base64 lines of random bytes: barely
# compressible), binary (random bytes: incompressible, stored raw); several in one run are measured
# one after the other.
# --pg-fsync off: the server without fsync and synchronous_commit (to see what commits cost).
#
# Builds Release in build-bench-daemon/ (its own folder: other benchmarks use build-bench/).
# Prints markdown-ready lines; paste them, the date and the command into docs/benchmarks.md.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"

what=all runbooks=20 seconds=60 schedules="10000 100000" idle=30 bytes=1073741824
content=logs pg_fsync=on takeover=100000 jobs=4
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then what=$1; shift; fi
while [ $# -gt 0 ]; do
  case "$1" in
    --runbooks) runbooks=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --schedules) schedules=$2; shift 2 ;;
    --idle) idle=$2; shift 2 ;;
    --bytes) bytes=$2; shift 2 ;;
    --content) content=$2; shift 2 ;;
    --pg-fsync) pg_fsync=$2; shift 2 ;;
    --takeover) takeover=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    *) echo "run_daemon.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
case "$what" in all|lateness|startup|output|memory|takeover) ;; *) echo "run_daemon.sh: unknown benchmark '$what'" >&2; exit 2 ;; esac

./deploy/install-deps.sh
bdir=${YB_BENCH_DIR:-$here/build-bench-daemon}
if [ -z "${YB_BENCH_NO_BUILD:-}" ]; then
  cmake -S . -B "$bdir" -DCMAKE_BUILD_TYPE=Release -DYB_TESTS=OFF >/dev/null
  cmake --build "$bdir" -j2 --target yoban yoband yoban-runner >/dev/null
  # what the binaries were built from, for the header
  echo "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- scheduler common runner schemas ||
    echo ' + uncommitted changes')" >"$bdir/bench-commit"
fi
bin=$bdir/bin

# shellcheck source=../integration/lib/pg.sh
. tests/integration/lib/pg.sh
# The benchmark's server: lib/pg.sh's private cluster, with fsync on like a real one (unless
# --pg-fsync off).
pg_start
pg_run_as_server tee -a "$PG_DATA/postgresql.conf" >/dev/null <<CONF
fsync = $pg_fsync
synchronous_commit = $pg_fsync
full_page_writes = $pg_fsync
CONF
pg_run_as_server "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -w -t 60 restart -l "$PG_DATA/server.log" >/dev/null
work=$(mktemp -d "${TMPDIR:-/tmp}/yoban-bench.XXXXXX")
chmod 0755 "$work"
ydpid=
# shellcheck disable=SC2034 # read by lib/pg.sh on exit
PG_ON_EXIT=bench_cleanup
bench_cleanup() {
  if [ -n "$ydpid" ]; then kill "$ydpid" 2>/dev/null || true; wait "$ydpid" 2>/dev/null || true; fi
  rm -rf "$work"
}
sql() { PGDATABASE=yoban pg_psql "$@"; }

# fresh_site NAME: a new database and a site folder for it
fresh_site() {
  local name=$1
  site=$work/$name
  rm -rf "$site"; mkdir -p "$site/runbooks" "$site/state"
  pg_psql -c "DROP DATABASE IF EXISTS yoban" -c "CREATE DATABASE yoban"
  cat >"$site/yoban.yaml" <<YAML
database: "host=$PGHOST port=$PGPORT dbname=yoban"
state_dir: $site/state
runbooks: runbooks
inventory: inventory.yaml
timezone: Asia/Tokyo
YAML
  cat >"$site/inventory.yaml" <<YAML
hosts:
  local: { transport: local, environment: production, runner: $bin/yoban-runner }
YAML
  PGUSER=postgres "$bin/yoban" db migrate --config "$site/yoban.yaml" >/dev/null
  # the roles belong to the cluster: created with the first database's migration
  if [ "$(pg_psql -c "SELECT count(*) FROM pg_roles WHERE rolname = 'ydbench'")" = 0 ]; then
    pg_create_login ydbench yoban_daemon
    pg_create_login opbench yoban_operator
  fi
}

start_daemon() {
  PGUSER=ydbench "$bin/yoband" --config "$site/yoban.yaml" >"$site/yoband.log" 2>&1 &
  ydpid=$!
}
stop_daemon() {
  kill "$ydpid" 2>/dev/null || true
  wait "$ydpid" 2>/dev/null || true
  ydpid=
}

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -sr), $("$PG_BINDIR/postgres" --version)"
echo "# tests/bench/run_daemon.sh $what --runbooks $runbooks --seconds $seconds --schedules \"$schedules\" --idle $idle --bytes $bytes --content \"$content\" --jobs $jobs --pg-fsync $pg_fsync --takeover \"$takeover\""
echo "# built from $(cat "$bdir/bench-commit" 2>/dev/null || echo 'an unknown commit'), load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"

bench_lateness() {
  fresh_site lateness
  for i in $(seq -w 1 "$runbooks"); do
    cat >"$site/runbooks/tick-$i.yaml" <<YAML
version: 1
name: tick-$i
kind: batch
targets: { hosts: [local] }
timeout: 1m
schedule: { cron: "* * * * * *", timezone: Asia/Tokyo }
concurrency: allow
steps:
  - name: tick
    run: "true"
YAML
  done
  start_daemon
  # fires from 3 s after the start on count (the first second is loading and connecting)
  local from
  from=$(sql -c "SELECT to_json(now() + interval '3 s') #>> '{}'")
  sleep $((seconds + 3))
  local to
  to=$(sql -c "SELECT to_json(now()) #>> '{}'")
  stop_daemon
  echo
  echo "## lateness: $runbooks runbooks every second for $seconds s (fires in [$from, $to))"
  sql -F ' | ' <<SQL
SELECT 'fires', count(*)::text,
  'dispatched', count(j.id)::text
FROM yoban.runs r LEFT JOIN yoban.jobs j ON j.run_id = r.id AND j.step_index = 0 AND j.attempt = 1
WHERE r.trigger = 'schedule' AND r.scheduled_for >= '$from' AND r.scheduled_for < '$to';
SQL
  echo "| measure | p50 ms | p99 ms | max ms |"
  echo "|---|---|---|---|"
  sql -F ' | ' <<SQL
WITH f AS (
  SELECT extract(epoch FROM r.created_at - r.scheduled_for) * 1000 AS claim_ms,
         extract(epoch FROM j.started_at - r.scheduled_for) * 1000 AS dispatch_ms
  FROM yoban.runs r JOIN yoban.jobs j ON j.run_id = r.id AND j.step_index = 0 AND j.attempt = 1
  WHERE r.trigger = 'schedule' AND r.scheduled_for >= '$from' AND r.scheduled_for < '$to')
SELECT '| run claimed (runs.created_at)', round(percentile_cont(0.5) WITHIN GROUP (ORDER BY claim_ms)::numeric, 2),
  round(percentile_cont(0.99) WITHIN GROUP (ORDER BY claim_ms)::numeric, 2), round(max(claim_ms)::numeric, 2) || ' |' FROM f
UNION ALL
SELECT '| job dispatched (jobs.started_at)', round(percentile_cont(0.5) WITHIN GROUP (ORDER BY dispatch_ms)::numeric, 2),
  round(percentile_cont(0.99) WITHIN GROUP (ORDER BY dispatch_ms)::numeric, 2), round(max(dispatch_ms)::numeric, 2) || ' |' FROM f;
SQL
  sql -F ' ' -c "SELECT 'runs not succeeded:', count(*) FILTER (WHERE state <> 'succeeded'), 'of', count(*) FROM yoban.runs WHERE scheduled_for >= '$from' AND scheduled_for < '$to' AND state NOT IN ('pending','queued','running')"
}

calc() { awk "BEGIN { print $1 }"; }
proc_cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
proc_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
log_ms() { # the first log line matching $1, as milliseconds since the epoch
  local ts
  ts=$(grep -m1 -- "$1" "$site/yoband.log" | cut -d' ' -f1) || return 1
  [ -n "$ts" ] || return 1
  date -d "$ts" +%s%3N
}

# gen_schedules N: N runbooks, daily at a spread of minutes, so nothing fires during the measurement
gen_schedules() {
  local n=$1
  local gen=$site/gen.awk
  cat >"$gen" <<'AWK'
BEGIN {
  for (i = 1; i <= n; i++) {
    f = sprintf("%s/sched-%06d.yaml", dir, i)
    printf "version: 1\nname: sched-%06d\nkind: batch\ntargets: { hosts: [local] }\ntimeout: 10m\n", i > f
    printf "schedule: { cron: \"%d %d * * *\", timezone: Asia/Tokyo }\n", i % 60, 2 + (i % 3) > f
    printf "steps:\n  - name: work\n    run: echo %d\n", i > f
    close(f)
  }
}
AWK
  awk -v n="$n" -v dir="$site/runbooks" -f "$gen"
}

bench_startup() {
  local n=$1
  fresh_site "startup-$n"
  gen_schedules "$n"
  # at rest, as a real site's files are: yoband takes a file changed within a second of a load
  # as possibly changed again (and the new leader's reload then parses everything once more)
  sleep 2
  # keep the fires away from now: hours 02-04 Tokyo are outside any plausible bench hour
  local t0 t_leader t_recorded rss hwm
  t0=$(date +%s%3N)
  start_daemon
  local deadline=$((SECONDS + 600))
  until grep -q "leader: holding" "$site/yoband.log" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || { echo "startup $n: no leadership within 600 s" >&2; tail "$site/yoband.log" >&2; stop_daemon; return 1; }
    kill -0 "$ydpid" 2>/dev/null || { echo "startup $n: yoband died" >&2; tail "$site/yoband.log" >&2; return 1; }
    sleep 0.05
  done
  t_leader=$(log_ms "leader: holding")
  # loading is done before leadership: what was loaded is what gets recorded
  local loaded
  loaded=$(grep -c "runbook '.*' loaded" "$site/yoband.log" || true)
  [ "$loaded" -eq "$n" ] || echo "startup $n: yoband loaded $loaded of $n runbook files" >&2
  until [ "$(sql -c 'SELECT count(*) FROM yoban.runbook_revisions')" -ge "$loaded" ]; do
    [ $SECONDS -lt $deadline ] || { echo "startup $n: revisions not all recorded within 600 s" >&2; break; }
    sleep 0.2
  done
  t_recorded=$(date +%s%3N)
  # then the leader's catch-up (statements per scheduled runbook): settled once a whole second
  # uses under 5 % of a core
  local t_settled s0 s1 hz
  hz=$(getconf CLK_TCK)
  while :; do
    s0=$(proc_cpu_ticks "$ydpid"); sleep 1; s1=$(proc_cpu_ticks "$ydpid")
    [ $((s1 - s0)) -ge $((hz / 20)) ] || break
    [ $SECONDS -lt $deadline ] || { echo "startup $n: still busy after 600 s" >&2; break; }
  done
  t_settled=$(($(date +%s%3N) - 1000))
  sleep 2
  rss=$(proc_kb "$ydpid" VmRSS)
  local c0 c1
  c0=$(proc_cpu_ticks "$ydpid")
  sleep "$idle"
  c1=$(proc_cpu_ticks "$ydpid")
  hwm=$(proc_kb "$ydpid" VmHWM)
  stop_daemon
  printf '| %s | %s | %.2f s | %.2f s | %.2f s | %.1f MiB | %.1f MiB | %.2f %% |\n' "$n" "$loaded" \
    "$(calc "($t_leader - $t0) / 1000")" "$(calc "($t_recorded - $t0) / 1000")" \
    "$(calc "($t_settled - $t0) / 1000")" \
    "$(calc "$rss / 1024")" "$(calc "$hwm / 1024")" \
    "$(calc "($c1 - $c0) * 100 / $hz / $idle")"
}

# wait_log FILE PATTERN [AFTER_LINE]: until a line after line AFTER_LINE of FILE matches
wait_log() {
  local deadline=$((SECONDS + 600))
  until tail -n +"$((${3:-0} + 1))" "$1" 2>/dev/null | grep -q -- "$2"; do
    [ $SECONDS -lt $deadline ] || { echo "takeover: no '$2' in $1 within 600 s" >&2; tail "$1" >&2; return 1; }
    sleep 0.05
  done
}
# line_ms FILE PATTERN [AFTER_LINE]: the first such line's time, as ms since the epoch
line_ms() {
  date -d "$(tail -n +"$((${3:-0} + 1))" "$1" | grep -m1 -- "$2" | cut -d' ' -f1)" +%s%3N
}

bench_takeover() {
  local n=$1
  fresh_site "takeover-$n"
  gen_schedules "$n"
  cat >"$site/runbooks/tick.yaml" <<YAML
version: 1
name: tick
kind: batch
targets: { hosts: [local] }
timeout: 1m
schedule: { cron: "* * * * * *", timezone: Asia/Tokyo }
concurrency: allow
steps:
  - name: tick
    run: "true"
YAML
  sleep 2 # at rest (see bench_startup)
  # the first leader: from taking the lock to its first START (the tick fires every second)
  start_daemon
  local a=$ydpid alog=$site/yoband.log blog=$site/yoband-b.log bpid
  wait_log "$alog" "leader: holding" || { stop_daemon; return 1; }
  wait_log "$alog" "dispatch job" || { stop_daemon; return 1; }
  local t_lead t_disp
  t_lead=$(line_ms "$alog" "leader: holding")
  t_disp=$(line_ms "$alog" "dispatch job")
  # a standby beside it, with every runbook loaded; then the leader is killed
  PGUSER=ydbench "$bin/yoband" --config "$site/yoban.yaml" >"$blog" 2>&1 &
  bpid=$!
  wait_log "$blog" "connected to the database" || { kill "$bpid"; stop_daemon; return 1; }
  until [ "$(grep -c "runbook '.*' loaded" "$blog" || true)" -gt "$n" ]; do sleep 0.2; done
  sleep 5 # the standby at rest, and the leader's heartbeat fresh
  local t_kill t_blead t_bdisp from
  t_kill=$(date +%s%3N)
  kill -9 "$a"
  wait "$a" 2>/dev/null || true
  ydpid=$bpid
  wait_log "$blog" "leader: holding" || { stop_daemon; return 1; }
  from=$(grep -n -m1 "leader: holding" "$blog" | cut -d: -f1)
  wait_log "$blog" "dispatch job" "$from" || { stop_daemon; return 1; }
  t_blead=$(line_ms "$blog" "leader: holding")
  t_bdisp=$(line_ms "$blog" "dispatch job" "$from")
  stop_daemon
  printf '| %s | %.2f s | %.2f s | %.2f s | %.2f s |\n' "$n" \
    "$(calc "($t_disp - $t_lead) / 1000")" "$(calc "($t_blead - $t_kill) / 1000")" \
    "$(calc "($t_bdisp - $t_blead) / 1000")" "$(calc "($t_bdisp - $t_kill) / 1000")"
  # where the time went (taking the lead), and what the new leader found
  grep -h "leader: \\|catch-up: runbook 'tick'\\|reconcile: .* run(s) in flight" "$alog" | cut -d' ' -f3- | sed 's/^/# first: /'
  grep -h "leader: \\|catch-up: runbook 'tick'\\|reconcile: .* run(s) in flight" "$blog" | cut -d' ' -f3- | sed 's/^/# standby: /'
}

# stored_bytes_sql: what a job's chunks take in the database (both columns once 009 is applied;
# the "before" builds of the comparisons have only zstd)
stored_bytes_sql() {
  if [ "$(sql -c "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'yoban' AND table_name = 'output_chunks' AND column_name = 'raw'")" = 1 ]; then
    echo "coalesce(length(c.zstd), 0) + coalesce(length(c.raw), 0)"
  else
    echo "length(c.zstd)"
  fi
}
raw_chunks_sql() {
  if [ "$(stored_bytes_sql)" = "length(c.zstd)" ]; then echo "0 * count(*)"; else echo "count(c.raw)"; fi
}

# gen_content KIND BYTES FILE: log lines, base64 lines of random bytes (barely compressible), or
# random bytes (incompressible); exactly BYTES bytes (head closes the pipe early: SIGPIPE
# upstream is expected, the size is checked instead)
gen_content() {
  local kind=$1 n=$2 file=$3
  case "$kind" in
    random) (head -c $((n / 4 * 3 + 4096)) /dev/urandom | base64 -w 76 | head -c "$n" >"$file") || true ;;
    binary) head -c "$n" /dev/urandom >"$file" ;;
    *) (seq 1 $((n / 40 + 1)) | sed 's/.*/2026-11-22T03:00:00+09:00 INFO record & ok/' |
      head -c "$n" >"$file") || true ;;
  esac
  [ "$(stat -c %s "$file")" -eq "$n" ] || { echo "generated $(stat -c %s "$file") bytes, not $n" >&2; return 1; }
}

# copy_binary_file DATA OUT: DATA as a COPY ... (FORMAT binary) file, one bytea row per 256 KiB
# (the fair baseline for bytes that are not text: no escaping, no hex)
copy_binary_file() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import struct, sys
src, dst = sys.argv[1], sys.argv[2]
with open(src, "rb") as i, open(dst, "wb") as o:
    o.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0))
    while True:
        b = i.read(256 * 1024)
        if not b:
            break
        o.write(struct.pack("!hi", 1, len(b)) + b)
    o.write(struct.pack("!h", -1))
PY
}

bench_output() {
  local kind=$1
  fresh_site "output-$kind"
  local data=$work/output.dat
  gen_content "$kind" "$bytes" "$data" || return 1
  local size
  size=$(stat -c %s "$data")
  cat >"$site/runbooks/big.yaml" <<YAML
version: 1
name: big
kind: batch
targets: { hosts: [local] }
timeout: 30m
steps:
  - name: emit
    run: cat '$data'
YAML
  start_daemon
  until grep -q "leader: holding" "$site/yoband.log" 2>/dev/null; do sleep 0.05; done
  local t0 t1 run
  t0=$(date +%s%3N)
  run=$(PGUSER=opbench "$bin/yoban" trigger big --wait --timeout 60s --config "$site/yoban.yaml" | sed -n 's/^run //p')
  until sql -c "SELECT state FROM yoban.runs WHERE id = $run" | grep -qE 'succeeded|failed|timed_out|cancelled|lost'; do sleep 0.2; done
  t1=$(date +%s%3N)
  local hwm
  hwm=$(proc_kb "$ydpid" VmHWM)
  stop_daemon
  echo
  echo "## output: one job writing $size bytes ($kind), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
  sql -F ' ' <<SQL
SELECT 'run', r.state, 'job stored', j.stdout_bytes, 'bytes, dropped', j.dropped_bytes,
  ', chunks', (SELECT count(*) FROM yoban.output_chunks c WHERE c.job_id = j.id),
  ', raw chunks', (SELECT $(raw_chunks_sql) FROM yoban.output_chunks c WHERE c.job_id = j.id),
  ', stored bytes', (SELECT sum($(stored_bytes_sql)) FROM yoban.output_chunks c WHERE c.job_id = j.id),
  ', yoband VmHWM $hwm kB'
FROM yoban.runs r JOIN yoban.jobs j ON j.run_id = r.id WHERE r.id = $run;
SQL
  echo "| path | seconds | MB/s (10^6 bytes) |"
  echo "|---|---|---|"
  sql -F ' | ' <<SQL
SELECT '| yoband: dispatch to stored exit (jobs.started_at .. ended_at)',
  round(extract(epoch FROM j.ended_at - j.started_at)::numeric, 2),
  round(($size / 1e6 / extract(epoch FROM j.ended_at - j.started_at))::numeric, 1) || ' |'
FROM yoban.jobs j WHERE j.run_id = $run;
SQL
  printf '| yoban trigger to run ended, seen by polling | %.2f | %.1f |\n' \
    "$(calc "($t1 - $t0) / 1000")" "$(calc "$size / 1000 / ($t1 - $t0)")"
  # reading it back: yoban logs, decompressing every chunk; the digest must match the file's
  local r0 r1 got want
  r0=$(date +%s%3N)
  got=$(PGUSER=opbench "$bin/yoban" logs "$run" --quiet --config "$site/yoban.yaml" | sha256sum | cut -c1-64)
  r1=$(date +%s%3N)
  want=$(sha256sum <"$data" | cut -c1-64)
  printf '| yoban logs of the stored job to a pipe (%s) | %.2f | %.1f |\n' \
    "$([ "$got" = "$want" ] && echo "sha256 matches the file" || echo "SHA256 DIFFERS FROM THE FILE")" \
    "$(calc "($r1 - $r0) / 1000")" "$(calc "$size / 1000 / ($r1 - $r0)")"
  # the baseline: the same bytes through psql \copy, as PostgreSQL stores any text (one row per
  # line), or for bytes that are not text, as bytea rows of 256 KiB in COPY's binary format
  local c0 c1 copy_what
  if [ "$kind" = binary ]; then
    copy_binary_file "$data" "$work/copy.bin"
    sql -c "CREATE TABLE public.copy_bench (chunk bytea)"
    c0=$(date +%s%3N)
    PGDATABASE=yoban "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -c "\\copy public.copy_bench FROM '$work/copy.bin' (FORMAT binary)"
    c1=$(date +%s%3N)
    rm -f "$work/copy.bin"
    copy_what="(FORMAT binary) into a bytea table, 256 KiB a row"
  else
    sql -c "CREATE TABLE public.copy_bench (line text)"
    c0=$(date +%s%3N)
    PGDATABASE=yoban "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -c "\\copy public.copy_bench FROM '$data'"
    c1=$(date +%s%3N)
    copy_what="into a text table, a row a line"
  fi
  printf '| psql \\copy of the same file %s | %.2f | %.1f |\n' "$copy_what" \
    "$(calc "($c1 - $c0) / 1000")" "$(calc "$size / 1000 / ($c1 - $c0)")"
  local p0 p1
  p0=$(date +%s%3N)
  cat "$data" >/dev/null
  p1=$(date +%s%3N)
  printf '| cat of the file to /dev/null (the producer alone) | %.2f | %.1f |\n' \
    "$(calc "($p1 - $p0) / 1000")" "$(calc "$size / 1000 / ($p1 - $p0 + 1)")"
  rm -f "$data"
}

# memory: $jobs jobs at once, each printing $bytes of random bytes (incompressible: stored raw,
# the most memory), one per local host (one runner and one connection each); yoband's RSS
# sampled every 0.2 s, its VmHWM before and after
bench_memory() {
  fresh_site memory
  local data=$work/memory.dat hosts="" i
  gen_content binary "$bytes" "$data" || return 1
  for i in $(seq 1 "$jobs"); do
    echo "  l$i: { transport: local, environment: production, runner: $bin/yoban-runner, state_dir: $site/state/runner-$i }" >>"$site/inventory.yaml"
    hosts="$hosts${hosts:+, }l$i"
  done
  cat >"$site/runbooks/flood.yaml" <<YAML
version: 1
name: flood
kind: batch
targets: { hosts: [$hosts] }
timeout: 60m
steps:
  - name: emit
    run: cat '$data'
YAML
  start_daemon
  until grep -q "leader: holding" "$site/yoband.log" 2>/dev/null; do sleep 0.05; done
  sleep 1
  local base t0 t1 run peak_rss=0 rss
  base=$(proc_kb "$ydpid" VmHWM)
  t0=$(date +%s%3N)
  run=$(PGUSER=opbench "$bin/yoban" trigger flood --wait --timeout 60s --config "$site/yoban.yaml" | sed -n 's/^run //p')
  until sql -c "SELECT state FROM yoban.runs WHERE id = $run" | grep -qE 'succeeded|failed|timed_out|cancelled|lost'; do
    rss=$(proc_kb "$ydpid" VmRSS)
    [ "$rss" -gt "$peak_rss" ] && peak_rss=$rss
    sleep 0.2
  done
  t1=$(date +%s%3N)
  local hwm
  hwm=$(proc_kb "$ydpid" VmHWM)
  local pauses
  pauses=$(grep -c "output: reading from the runner" "$site/yoband.log" || true)
  stop_daemon
  echo
  echo "## memory: $jobs jobs at once, each writing $bytes random bytes (load average $(cut -d' ' -f1-3 /proc/loadavg) at the end)"
  sql -F ' ' <<SQL
SELECT 'run', r.state, 'jobs', count(*), 'stored', sum(j.stdout_bytes), 'bytes, dropped', sum(j.dropped_bytes),
  ', stored bytes', (SELECT sum($(stored_bytes_sql)) FROM yoban.output_chunks c JOIN yoban.jobs k ON k.id = c.job_id WHERE k.run_id = r.id)
FROM yoban.runs r JOIN yoban.jobs j ON j.run_id = r.id WHERE r.id = $run GROUP BY r.id, r.state;
SQL
  echo "| yoband VmHWM before | VmHWM after | peak VmRSS sampled | seconds, trigger to run ended | MB/s (all jobs, 10^6 bytes) | pause log lines |"
  echo "|---|---|---|---|---|---|"
  printf '| %.1f MiB | %.1f MiB | %.1f MiB | %.2f | %.1f | %s |\n' "$(calc "$base / 1024")" \
    "$(calc "$hwm / 1024")" "$(calc "$peak_rss / 1024")" "$(calc "($t1 - $t0) / 1000")" \
    "$(calc "$jobs * $bytes / 1000 / ($t1 - $t0)")" "$pauses"
  rm -f "$data"
}

case "$what" in
  all|lateness) bench_lateness ;;
esac
case "$what" in
  all|startup)
    echo
    echo "## start-up with many schedules (idle CPU over $idle s)"
    echo "| schedules | loaded | to leadership | to every revision recorded | to settled | RSS | peak RSS | idle CPU |"
    echo "|---|---|---|---|---|---|---|---|"
    for n in $schedules; do bench_startup "$n"; done ;;
esac
case "$what" in
  all|output) for c in $content; do bench_output "$c"; done ;;
esac
case "$what" in
  all|memory) bench_memory ;;
esac
case "$what" in
  all|takeover)
    echo
    echo "## takeover: leadership -> first dispatch, and failover (SIGKILL of the leader)"
    echo "| schedules | leadership -> first dispatch | kill -> standby leads | standby leads -> first dispatch | kill -> first dispatch (failover) |"
    echo "|---|---|---|---|---|"
    for n in $takeover; do bench_takeover "$n"; done ;;
esac
