#!/usr/bin/env bash
# yoband storing heavy output (docs/daemon.md, Memory): random bytes are stored raw (column raw,
# migration 009) and `yoban logs` gives back exactly the bytes printed; log-like text is still
# compressed; a job printing 200 MB of random bytes keeps yoband's peak memory (VmHWM) within the
# bound on output waiting to be stored, because yoband stops reading that runner while the
# database catches up; meanwhile another host's runs fire every second and the heartbeat goes on.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/assert.sh"
. "$here/lib/pg.sh"
. "$here/lib/daemon.sh"

yd_setup || bail "yd_setup"
# a second production host with its own runner (its own connection), for runs beside the big one
cat >>"$YD_SITE/inventory.yaml" <<YAML
  other: { transport: local, environment: production, state_dir: $YD_SITE/state/runner-other }
YAML
data=$PG_BASE/data
mkdir -p "$data"
chmod 0755 "$data"

yd_runbook random "targets: { hosts: [local] }
steps:
  - name: emit
    run: head -c 5242880 /dev/urandom | tee '$data/random.bin'"
yd_runbook text "targets: { hosts: [local] }
steps:
  - name: emit
    run: seq 1 120000 | sed 's/.*/2026-12-01T10:00:00+09:00 INFO batch record & ok/'"
yd_runbook big "targets: { hosts: [local] }
timeout: 10m
steps:
  - name: emit
    run: head -c 209715200 /dev/urandom"

# runs of a runbook, waited for; prints the run id
trigger_wait() { # RUNBOOK SECONDS
  local req run
  req=$(PGUSER=alice yd_sql "SELECT yoban.yoban_trigger('$1')") || return 1
  yd_wait_sql "SELECT ok FROM yoban.requests WHERE id = $req" t 20 >&2 || return 1
  run=$(yd_sql "SELECT id FROM yoban.runs WHERE request_id = $req")
  yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $run" succeeded "$2" >&2 || return 1
  echo "$run"
}
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

# Under AddressSanitizer freed blocks wait in a quarantine (256 MiB by default) before reuse: the
# peak would measure the quarantine, not yoband. A small one keeps the figure about our code.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4" yd_start
yd_wait_sql "SELECT count(*) FROM yoban.heartbeats WHERE leader" 1 30 || bail "yoband leads"

# ---- random bytes: stored raw, read back exactly ----
run=$(trigger_wait random 60) || bail "the random run succeeded"
job=$(yd_sql "SELECT id FROM yoban.jobs WHERE run_id = $run")
want=$(sha256sum <"$data/random.bin" | cut -c1-64)
check "the runner's digest is the printed bytes'" "$want" "$(yd_sql "SELECT stdout_sha256 FROM yoban.jobs WHERE id = $job")"
check "every byte stored" 5242880 "$(yd_sql "SELECT sum(raw_len) FROM yoban.output_chunks WHERE job_id = $job")"
# chunks under 4 KiB are compressed whatever they hold: the raw ones carry nearly all
check "random output is stored raw" t "$(yd_sql "SELECT sum(length(raw)) >= 0.9 * 5242880 FROM yoban.output_chunks WHERE job_id = $job")"
check "a raw chunk holds raw_len bytes and no zstd frame" 0 "$(yd_sql "SELECT count(*) FROM yoban.output_chunks WHERE job_id = $job AND raw IS NOT NULL AND (zstd IS NOT NULL OR length(raw) <> raw_len)")"
check "yoban logs gives back the exact bytes" "$want" "$("$YB_BIN/yoban" logs "$run" --quiet | sha256sum | cut -c1-64)"
json=$("$YB_BIN/yoban" logs "$run" --format json | head -1)
contains "logs --format json carries a raw chunk's bytes in base64" '"base64":' "$json"

# ---- log-like text: compressed ----
run=$(trigger_wait text 60) || bail "the text run succeeded"
job=$(yd_sql "SELECT id FROM yoban.jobs WHERE run_id = $run")
want=$(seq 1 120000 | sed 's/.*/2026-12-01T10:00:00+09:00 INFO batch record & ok/' | sha256sum | cut -c1-64)
check "text: yoban logs gives back the exact bytes" "$want" "$("$YB_BIN/yoban" logs "$run" --quiet | sha256sum | cut -c1-64)"
check "text is stored compressed (no raw chunk)" 0 "$(yd_sql "SELECT count(*) FROM yoban.output_chunks WHERE job_id = $job AND raw IS NOT NULL")"
check "text compresses at least 10:1" t "$(yd_sql "SELECT sum(length(zstd)) * 10 < sum(raw_len) FROM yoban.output_chunks WHERE job_id = $job")"

# ---- 200 MB of random bytes: memory stays bounded, the rest goes on ----
yd_runbook tick "schedule: { cron: \"* * * * * *\", timezone: Asia/Tokyo }
concurrency: allow
targets: { hosts: [other] }
steps:
  - name: say
    run: echo tick"
kill -HUP "$YD_PID"
yd_wait_sql "SELECT count(*) > 0 FROM yoban.runs WHERE runbook = 'tick' AND state = 'succeeded'" t 30 ||
  bail "the tick runbook runs"
base=$(hwm_kb "$YD_PID")
t0=$(yd_sql "SELECT now()")
run=$(trigger_wait big 300) || bail "the 200 MB run succeeded"
peak=$(hwm_kb "$YD_PID")
job=$(yd_sql "SELECT id FROM yoban.jobs WHERE run_id = $run")
t1=$(yd_sql "SELECT ended_at FROM yoban.jobs WHERE id = $job")
secs=$(yd_sql "SELECT round(extract(epoch FROM ended_at - started_at)) FROM yoban.jobs WHERE id = $job")
echo "# 200 MB stored in $secs s; yoband VmHWM $base kB before, $peak kB after"
check "every byte of the 200 MB stored" 209715200 "$(yd_sql "SELECT sum(raw_len) FROM yoban.output_chunks WHERE job_id = $job")"
check "stored bytes are the runner's (digest)" "$(yd_sql "SELECT stdout_sha256 FROM yoban.jobs WHERE id = $job")" \
  "$("$YB_BIN/yoban" logs "$run" --quiet | sha256sum | cut -c1-64)"
# the bound (docs/daemon.md, Memory): 32 MiB waiting + a 4 MiB INSERT in flight (and libpq's
# copy of it) + a runner connection's buffers (up to 8 MiB) + one chunk over: under 64 MiB
check_status "peak memory grew by less than 64 MiB (was $base kB, now $peak kB)" 0 test $((peak - base)) -lt 65536
contains "the runner was paused while output waited" "output: reading from the runner on host 'local' paused" "$(cat "$PG_BASE/yoband.log")"
# while it was stored: the other host's runs went on every second, the heartbeat too
ticks=$(yd_sql "SELECT count(*) FROM yoban.runs r JOIN yoban.jobs j ON j.run_id = r.id WHERE r.runbook = 'tick' AND r.state = 'succeeded' AND j.started_at BETWEEN '$t0' AND '$t1'")
check_status "another host's runs fired during the big job ($ticks in $secs s)" 0 test "$ticks" -ge $((secs * 2 / 3))
check "the heartbeat went on" t "$(yd_sql "SELECT max(at) > now() - interval '15 s' FROM yoban.heartbeats WHERE leader")"
rm -rf "$data"
finish
