#!/usr/bin/env bash
# Notices and incidents end to end, with real servers on loopback: yoband, the delivery worker
# yoban-notify, a real SMTP server (aiosmtpd, Debian's python3-aiosmtpd, writing a Maildir), a
# local HTTP receiver, and a command channel writing files.
#   - a failing step: exactly one mail, one POST and one command call; the incident opens with its
#     detection time, is reported (notified_at), escalated when not acknowledged within the
#     (short) SLA report time, acknowledged and resolved with its record by an operator;
#   - the SMTP server down: every attempt recorded, then the next channel (fallover);
#   - the worker killed with SIGKILL mid-delivery: the notice still arrives, and the duplicate
#     carries the same idempotency key;
#   - a missed fire opens an incident; a later success of the runbook closes nothing;
#   - a hanging webhook does not make fires late;
#   - availability over a past month with a known leader gap and a maintenance window.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/assert.sh"
. "$here/lib/pg.sh"
. "$here/lib/daemon.sh"

PY=/usr/bin/python3 # Debian's, where python3-aiosmtpd lives
check_status "python3-aiosmtpd is installed (deploy/install-deps.sh)" 0 $PY -c 'import aiosmtpd' ||
  bail "the SMTP server for the test"

yd_setup || bail "yd_setup"
work=$PG_BASE/notify
mkdir -p "$work/calls"
chmod 0755 "$PG_BASE" "$work" "$work/calls" 2>/dev/null

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
SMTP_PORT=$(free_port)
HTTP_PORT=$(free_port)
DEAD_PORT=$(free_port) # nobody listens here

EXTRA_PIDS=()
cleanup_extra() {
  local p
  for p in "${EXTRA_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  [ -s "$work/hang.pid" ] && kill -KILL -- -"$(cat "$work/hang.pid")" 2>/dev/null
  yd_stop_all
}
PG_ON_EXIT=cleanup_extra

smtp_start() {
  $PY -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox "$work/maildir" \
    >>"$PG_BASE/smtp.log" 2>&1 &
  SMTP_PID=$!
  EXTRA_PIDS+=("$SMTP_PID")
  for _ in $(seq 50); do
    $PY -c "import socket; socket.create_connection(('127.0.0.1', $SMTP_PORT), 1)" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
smtp_stop() { kill -TERM "$SMTP_PID" 2>/dev/null; wait "$SMTP_PID" 2>/dev/null; }

cat >"$work/receiver.py" <<'PY'
# A webhook receiver: each POST appended as one JSON line (path, idempotency key, body).
# POST /hang... is recorded, then answered only after 30 s.
import http.server, json, sys, time
port, out = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        rec = {"path": self.path, "key": self.headers.get("Idempotency-Key"),
               "body": json.loads(body)}
        with open(out, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        if self.path.startswith("/hang"):
            time.sleep(30)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"received": true}')
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
$PY "$work/receiver.py" "$HTTP_PORT" "$work/posts.jsonl" >>"$PG_BASE/receiver.log" 2>&1 &
EXTRA_PIDS+=("$!")

cat >"$work/phone.sh" <<'SH'
#!/bin/sh
# The command channel: one file per call (the JSON from stdin), one line per call in calls.log.
d=$(dirname "$0")
f="$d/calls/$(date +%s%N).json"
cat >"$f"
echo "$YOBAN_NOTICE_KEY $YOBAN_EVENT" >>"$d/calls.log"
if [ -e "$d/hang-once" ]; then rm -f "$d/hang-once"; echo $$ >"$d/hang.pid"; exec sleep 60; fi
echo "called on-duty"
SH
chmod 0755 "$work/phone.sh"
smtp_start || bail "starting the SMTP server"
$PY -c "import socket,time
for _ in range(50):
    try: socket.create_connection(('127.0.0.1', $HTTP_PORT), 1); break
    except OSError: time.sleep(0.1)"

mkdir -m 0700 "$work/secrets"
printf 'tk-5ecret-夜番' >"$work/secrets/token"; chmod 0600 "$work/secrets/token"

# Every process names its login: yoband and the worker as yoband, people as themselves.
cat >"$YD_SITE/yoban.yaml" <<YAML
database: "host=$PGHOST dbname=yoban"
state_dir: $YD_SITE/state
runbooks: runbooks
inventory: inventory.yaml
timezone: Asia/Tokyo
secrets_dir: $work/secrets
notify:
  channels:
    mail:  { smtp: { url: "smtp://127.0.0.1:$SMTP_PORT", from: "Yoban 夜番 <yoban@example.lg.jp>", to: [ops@example.lg.jp], tls: optional }, timeout: 5s, retry: { attempts: 2, delay: 1s } }
    hook:  { webhook: "http://127.0.0.1:$HTTP_PORT/ops", timeout: 5s }
    phone: { command: [$work/phone.sh], timeout: 10s, retry: { attempts: 1 } }
    slow:  { webhook: "http://127.0.0.1:$HTTP_PORT/hang", timeout: 2s, retry: { attempts: 1 } }
    dead:  { webhook: "http://127.0.0.1:$DEAD_PORT/x", timeout: 2s, retry: { attempts: 2, delay: 1s } }
  default: [mail]
  escalation: [phone]
contract:
  sla: { report: 4s, start: 1h, recover: 6h, availability: 99.9 }
maintenance:
  - { name: inspection, from: "2026-11-20T00:00+09:00", to: "2026-11-20T02:00+09:00", action: hold }
YAML
yb() { PGUSER=alice "$YB_BIN/yoban" "$@"; }

yd_runbook broken 'targets: { hosts: [local] }
notify: { on: [failure, timeout], channels: [mail, hook, phone] }
steps:
  - name: extract
    run: echo "住民データ抽出 ディスク容量不足 / disk full" >&2; echo "token=$API_TOKEN" >&2; exit 3
    secrets: { API_TOKEN: token }'
yd_runbook nomail 'targets: { hosts: [local] }
notify: { on: [failure], channels: [mail, hook] }
steps:
  - name: fail
    run: exit 4'
yd_runbook calls 'targets: { hosts: [local] }
notify: { on: [failure], channels: [phone] }
steps:
  - name: fail
    run: exit 5'
yd_runbook fine 'targets: { hosts: [local] }
notify: { on: [failure, success], channels: [hook] }
steps:
  - name: ok
    run: echo fine'
yd_runbook quiet 'targets: { hosts: [local] }
notify: { on: [failure], channels: [hook] }
steps:
  - name: ok
    run: echo quiet'
yd_runbook undelivered 'targets: { hosts: [local] }
notify: { on: [failure], channels: [dead] }
steps:
  - name: fail
    run: exit 6'

PGUSER=yoband yd_start
notify_start() {
  PGUSER=yoband "$YB_BIN/yoban-notify" >>"$PG_BASE/notify.log" 2>&1 &
  NOTIFY_PID=$!
  EXTRA_PIDS+=("$NOTIFY_PID")
}
notify_start

trigger() { PGUSER=alice yd_sql "SELECT yoban.yoban_trigger('$1')"; }
run_of() {
  yd_wait_sql "SELECT ok FROM yoban.requests WHERE id = $1" t 20 >/dev/null ||
    { yd_sql "SELECT result FROM yoban.requests WHERE id = $1" >&2; tail -5 "$PG_BASE/yoband.log" >&2; }
  yd_sql "SELECT result->>'run' FROM yoban.requests WHERE id = $1"
}
mails() { ls "$work/maildir/new" 2>/dev/null | wc -l; }
posts() { cat "$work/posts.jsonl" 2>/dev/null | grep -c -- "$1" || true; }

# ---- a failing step: one mail, one POST, one call; an incident ----
run=$(run_of "$(trigger broken)")
check_status "the broken run failed" 0 yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $run" failed 30
check_status "three deliveries for the failure (mail, hook, phone)" 0 yd_wait_sql "SELECT count(*) FROM yoban.notifications n JOIN yoban.notify_events e ON e.id = n.event_id WHERE e.run_id = $run AND n.state = 'delivered'" 3 30
check "exactly one mail" 1 "$(mails)"
check "exactly one POST" 1 "$(posts '"/ops"')"
check "exactly one command call" 1 "$(wc -l <"$work/calls.log")"
mailfile=$(ls "$work/maildir/new"/* | head -1)
decoded=$($PY - "$mailfile" <<'PY'
import email, email.header, sys
from email import policy
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=policy.default)
print("SUBJECT", m["Subject"])
print("MSGID", m["Message-ID"])
print("FROM", m["From"])
print(m.get_content())
PY
)
nid=$(yd_sql "SELECT n.id FROM yoban.notifications n JOIN yoban.notify_events e ON e.id = n.event_id WHERE e.run_id = $run AND n.channel = 'mail'")
contains "the subject is Japanese and English, with the runbook and run" "SUBJECT [yoban] 異常終了 FAILED: broken (run $run)" "$decoded"
contains "the Message-ID comes from the notification id" "MSGID <yoban-notice-$nid@example.lg.jp>" "$decoded"
contains "the From display name is encoded and decodes" "FROM Yoban 夜番 <yoban@example.lg.jp>" "$decoded"
contains "the mail carries the last lines of stderr" "ディスク容量不足 / disk full" "$decoded"
contains "the mail names step, host and exit" "extract" "$(grep -E 'step:|host:|exit:' <<<"$decoded" | tr -s ' ')"
lacks "the secret printed on stderr is masked in the mail" "tk-5ecret" "$decoded"
contains "the masked line is there" "token=" "$decoded"
contains "the mail says how to see more" "yoban show $run" "$decoded"
post=$(grep '"/ops"' "$work/posts.jsonl")
hid=$(yd_sql "SELECT n.id FROM yoban.notifications n JOIN yoban.notify_events e ON e.id = n.event_id WHERE e.run_id = $run AND n.channel = 'hook'")
contains "the POST has the idempotency key" "\"key\": \"yoban-notice-$hid\"" "$post"
contains "the POST's JSON says exit 3 and the step" '"exit_status": 3' "$post"
lacks "nor is it in the POST" "tk-5ecret" "$post"
contains "the command got the JSON on stdin" "\"run_id\":$run" "$(cat "$work"/calls/*.json)"
inc=$(yd_sql "SELECT id FROM yoban.incidents WHERE run_id = $run")
check_status "an incident opened for the failed production run" 0 test -n "$inc"
check "it has its detection time and the report time of the first notice" "t|t|failure" \
  "$(yd_sql "SELECT detected_at IS NOT NULL, notified_at >= detected_at, event FROM yoban.incidents WHERE id = $inc")"
check "every delivery recorded its attempt and the answer" 3 \
  "$(yd_sql "SELECT count(*) FROM yoban.notify_attempts a JOIN yoban.notifications n ON n.id = a.notification_id JOIN yoban.notify_events e ON e.id = n.event_id WHERE e.run_id = $run AND a.ok AND a.answer <> ''")"

# ---- escalation: not acknowledged within the report time (4 s) ----
check_status "the unacknowledged incident is escalated" 0 yd_wait_sql "SELECT escalated_at IS NOT NULL FROM yoban.incidents WHERE id = $inc" t 20
check_status "the escalation reached the escalation channel" 0 yd_wait_sql "SELECT count(*) FROM yoban.notifications n JOIN yoban.notify_events e ON e.id = n.event_id WHERE e.incident_id = $inc AND e.event = 'escalation' AND n.channel = 'phone' AND n.state = 'delivered'" 1 20
contains "the call says escalation" "escalation" "$(cat "$work/calls.log")"

# ---- a person acknowledges and resolves it ----
out=$(yb incident ack "$inc" --comment "当番が対応開始" 2>&1); check "ack by an operator" 0 "$?"
out=$(yb incident ack "$inc" 2>&1)
check "a second ack is refused" 1 "$?"
contains "it names who acknowledged" "already acknowledged" "$out"
pg_create_login rita yoban_reviewer >/dev/null 2>&1
out=$(PGUSER=rita "$YB_BIN/yoban" incident resolve "$inc" --cause c --temporary-fix t --permanent-fix p 2>&1)
check "a reviewer may not resolve" 1 "$?"
contains "the refusal says permission denied" "permission denied" "$out"
out=$(yb incident resolve "$inc" --cause "x" 2>&1); check "resolve without the whole record is a usage error" 2 "$?"
check "an operator cannot write incidents but through the functions" 1 \
  "$(status_of env PGUSER=alice "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -d yoban -c "UPDATE yoban.incidents SET cause = 'x'")"
check "nor can the daemon's role close one" 1 \
  "$(status_of env PGUSER=yoband "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -d yoban -c "SELECT yoban.yoban_incident_resolve($inc, 'a', 'b', 'c')")"
out=$(yb incident resolve "$inc" --cause a --temporary-fix b --permanent-fix c --recovered-at 2001-01-01 2>&1)
check "a recovery before the detection is refused" 1 "$?"
contains "and says why" "is not between the detection" "$out"
out=$(yb incident resolve "$inc" --cause "スプール領域の枯渇" --temporary-fix "old spool removed, rerun" \
  --permanent-fix "rotation added" 2>&1)
check "resolve with its record" 0 "$?"
check "the record holds cause, fixes, who and when" "スプール領域の枯渇|old spool removed, rerun|rotation added|alice|alice|当番が対応開始|t" \
  "$(yd_sql "SELECT cause, temporary_fix, permanent_fix, resolved_by, acknowledged_by, ack_comment, recovered_at IS NOT NULL FROM yoban.incidents WHERE id = $inc")"
out=$(yb incident resolve "$inc" --cause a --temporary-fix b --permanent-fix c 2>&1)
check "a second resolve is refused" 1 "$?"
show=$(yb incident show "$inc" 2>&1)
contains "show prints the record and the clocks" "report   due" "$show"
contains "show lists the notices" "escalation via phone" "$show"
json=$(yb incidents --format json)
check "incidents --format json has the report clock met" "met met met" \
  "$($PY -c 'import json,sys; d=json.load(sys.stdin); i=[x for x in d["incidents"] if x["id"]=='"$inc"'][0]; print(i["report_state"], i["start_state"], i["recover_state"])' <<<"$json")"
check "incidents --open leaves the resolved one out" 0 "$(yb incidents --open --format json | $PY -c 'import json,sys; print(len([x for x in json.load(sys.stdin)["incidents"] if x["id"]=='"$inc"']))')"
check "audit has the ack and the resolve by alice" "incident:ack:alice,incident:resolve:alice" \
  "$(yd_sql "SELECT string_agg(action || ':' || actor, ',' ORDER BY id) FROM yoban.audit WHERE action LIKE 'incident:%'")"

# ---- a later success closes nothing ----
frun=$(run_of "$(trigger fine)")
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $frun" succeeded 30 >/dev/null
check_status "a success is told when the runbook asks for it" 0 yd_wait_sql "SELECT count(*) FROM yoban.notifications n JOIN yoban.notify_events e ON e.id = n.event_id WHERE e.run_id = $frun AND n.state = 'delivered'" 1 20
check "a success opens no incident" 0 "$(yd_sql "SELECT count(*) FROM yoban.incidents WHERE run_id = $frun")"

# ---- successes nobody asked for: the outbox learns the revision's wish and stops writing them ----
q1=$(run_of "$(trigger quiet)")
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $q1" succeeded 30 >/dev/null
check_status "the first success of a revision is planned (to nobody)" 0 \
  yd_wait_sql "SELECT planned_at IS NOT NULL AND channels = '{}' FROM yoban.notify_events WHERE run_id = $q1" t 20
check "the revision's notify block is recorded" "{failure}|{hook}" \
  "$(yd_sql "SELECT n.notify_on, n.channels FROM yoban.revision_notify n JOIN yoban.runs r ON r.revision_id = n.revision_id WHERE r.id = $q1")"
q2=$(run_of "$(trigger quiet)")
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $q2" succeeded 30 >/dev/null
check "a later success of it writes no outbox row" 0 "$(yd_sql "SELECT count(*) FROM yoban.notify_events WHERE run_id = $q2")"

# ---- the SMTP server down: retries, every attempt recorded, then the next channel ----
smtp_stop
before=$(posts '"/ops"')
run2=$(run_of "$(trigger nomail)")
check_status "the mail delivery fails after its last retry" 0 yd_wait_sql "SELECT state FROM yoban.notifications n JOIN yoban.notify_events e ON e.id = n.event_id WHERE e.run_id = $run2 AND n.channel = 'mail' AND n.fallover_of IS NULL" failed 40
check "both attempts recorded as failed, with the reason" "2|f|t" \
  "$(yd_sql "SELECT count(*), bool_or(a.ok), bool_and(a.answer LIKE '%127.0.0.1%') FROM yoban.notify_attempts a JOIN yoban.notifications n ON n.id = a.notification_id JOIN yoban.notify_events e ON e.id = n.event_id WHERE e.run_id = $run2 AND n.channel = 'mail'")"
check_status "the notice fell over to the next channel (hook)" 0 yd_wait_sql "SELECT count(*) FROM yoban.notifications n JOIN yoban.notify_events e ON e.id = n.event_id WHERE e.run_id = $run2 AND n.fallover_of IS NOT NULL AND n.channel = 'hook' AND n.state = 'delivered'" 1 20
check "the hook got its own notice and the fallover" 2 "$(( $(posts '"/ops"') - before ))"
contains "the fallover says which channel failed" '"fallover_from": "mail"' "$(tail -2 "$work/posts.jsonl")"
failed=$(yb notifications --run "$run2" 2>&1)
contains "yoban notifications shows the failed attempts" "attempt 2 at" "$failed"
contains "yoban notifications --failed lists the failed delivery" "mail" "$(yb notifications --failed)"
smtp_start

# ---- a channel that never answers: failed, recorded, nothing else delays ----
run5=$(run_of "$(trigger undelivered)")
check_status "a dead channel ends failed after its attempts" 0 yd_wait_sql "SELECT n.state || '/' || n.attempts FROM yoban.notifications n JOIN yoban.notify_events e ON e.id = n.event_id WHERE e.run_id = $run5" failed/2 30

# ---- the worker killed with SIGKILL mid-delivery: delivered anyway, same key ----
: >"$work/hang-once"
run3=$(run_of "$(trigger calls)")
for _ in $(seq 100); do [ -s "$work/hang.pid" ] && break; sleep 0.1; done
check_status "the command channel is mid-call" 0 test -s "$work/hang.pid"
kill -KILL "$NOTIFY_PID"; wait "$NOTIFY_PID" 2>/dev/null
kill -KILL -- -"$(cat "$work/hang.pid")" 2>/dev/null
check "the killed delivery is still pending" pending \
  "$(yd_sql "SELECT n.state FROM yoban.notifications n JOIN yoban.notify_events e ON e.id = n.event_id WHERE e.run_id = $run3 AND e.event = 'failure'")"
notify_start
check_status "the restarted worker delivered it when the lease ran out" 0 yd_wait_sql "SELECT n.state FROM yoban.notifications n JOIN yoban.notify_events e ON e.id = n.event_id WHERE e.run_id = $run3 AND e.event = 'failure'" delivered 60
check "the killed attempt is recorded as interrupted, the second as ok" "1:null:true,2:true:false" \
  "$(yd_sql "SELECT string_agg(a.attempt || ':' || coalesce(a.ok::text, 'null') || ':' || (a.answer LIKE 'interrupted%')::text, ',' ORDER BY a.attempt) FROM yoban.notify_attempts a JOIN yoban.notifications n ON n.id = a.notification_id JOIN yoban.notify_events e ON e.id = n.event_id WHERE e.run_id = $run3 AND e.event = 'failure'")"
contains "yoban notifications shows it" "INTERRUPTED" "$(yb notifications --run "$run3")"
cid=$(yd_sql "SELECT n.id FROM yoban.notifications n JOIN yoban.notify_events e ON e.id = n.event_id WHERE e.run_id = $run3 AND e.event = 'failure'")
check "the duplicate call carries the same key" 2 "$(grep -c "^yoban-notice-$cid failure" "$work/calls.log")"

# ---- killed between the event and any delivery: the outbox keeps it ----
kill -KILL "$NOTIFY_PID"; wait "$NOTIFY_PID" 2>/dev/null
run4=$(run_of "$(trigger calls)")
yd_wait_sql "SELECT state FROM yoban.runs WHERE id = $run4" failed 30 >/dev/null
check "with no worker, the event waits in the outbox" 1 \
  "$(yd_sql "SELECT count(*) FROM yoban.notify_events WHERE run_id = $run4 AND planned_at IS NULL")"
notify_start
check_status "a worker started later delivers it" 0 yd_wait_sql "SELECT n.state FROM yoban.notifications n JOIN yoban.notify_events e ON e.id = n.event_id WHERE e.run_id = $run4 AND e.event = 'failure'" delivered 30

# ---- a missed fire opens an incident ----
mrun=$(yd_sql "SELECT run_id FROM yoban.yoban_claim_fire('fine', now() - interval '1 hour', 'production', NULL, '{}', 'catchup')")
yd_sql "SELECT yoban.yoban_run_transition($mrun, 'pending', 'skipped', 'missed while no scheduler led (catchup: none)')" >/dev/null
check "a missed fire opens an incident" missed "$(yd_sql "SELECT event FROM yoban.incidents WHERE run_id = $mrun")"
check_status "a missed fire of a runbook without a revision goes to the default channel" 0 yd_wait_sql "SELECT count(*) FROM yoban.notifications n JOIN yoban.notify_events e ON e.id = n.event_id WHERE e.run_id = $mrun AND n.state = 'delivered'" 1 20
srun=$(yd_sql "SELECT run_id FROM yoban.yoban_claim_fire('fine', now() - interval '2 hours', 'production', NULL, '{}', 'catchup')")
yd_sql "SELECT yoban.yoban_run_transition($srun, 'pending', 'skipped', 'in maintenance window ''x'' (skip)')" >/dev/null
check "a fire skipped on purpose opens none" 0 "$(yd_sql "SELECT count(*) FROM yoban.incidents WHERE run_id = $srun")"

# ---- a hanging webhook does not make fires late ----
yd_runbook tick 'schedule: { cron: "* * * * * *", timezone: Asia/Tokyo }
concurrency: allow
targets: { hosts: [local] }
notify: { on: [success], channels: [slow] }
steps:
  - name: say
    run: echo tick'
kill -HUP "$YD_PID"
check_status "ticks ran while their notices hang" 0 yd_wait_sql "SELECT count(*) >= 8 FROM yoban.runs WHERE runbook = 'tick' AND state = 'succeeded'" t 40
check_status "the hanging webhook was called" 0 test "$(posts '"/hang"')" -ge 1
late=$(yd_sql "SELECT max(extract(epoch FROM started_at - scheduled_for)) < 3 FROM yoban.runs WHERE runbook = 'tick' AND state = 'succeeded'")
check "no fire started more than 3 s late" t "$late"
rm -f "$YD_SITE/runbooks/tick.yaml"; kill -HUP "$YD_PID"

# ---- heartbeats become leader spans ----
check "the leader's heartbeats are recorded as a span" t \
  "$(yd_sql "SELECT count(*) >= 1 AND max(to_at) > now() - interval '1 minute' FROM yoban.leader_spans")"

# ---- availability over a past month: a 60-minute gap, a 2-hour maintenance window ----
yd_sql "INSERT INTO yoban.leader_spans (instance, from_at, to_at) VALUES
  ('test-a', '2026-10-31 23:00+09:00', '2026-11-10 03:00+09:00'),
  ('test-a', '2026-11-10 04:00+09:00', '2026-11-20 00:00+09:00'),
  ('test-b', '2026-11-20 02:00+09:00', '2026-12-01 01:00+09:00')" >/dev/null
av=$(yb incidents --month 2026-11 --format json)
# November in Asia/Tokyo: 43200 minutes, 120 in maintenance; 60 without a leader.
check "availability of 2026-11" "43080 60 99.8607 False" \
  "$($PY -c 'import json,sys; a=json.load(sys.stdin)["availability"]; print(round(a["minutes"]), round(a["down_minutes"]), round(a["percent"], 4), a["met"])' <<<"$av")"
contains "availability in text" "availability 2026-11: 99.86" "$(yb incidents --month 2026-11)"
# Counted from the first time a scheduler led (014): before it, Yoban was not in service.
check "availability before any leader: nothing counted, no percentage" "0|0|" \
  "$(yd_sql "SELECT round(total_minutes)::text || '|' || round(down_minutes)::text || '|' || coalesce(percent::text, '')
             FROM yoban.yoban_availability('2026-10-01 00:00+09:00', '2026-10-31 23:00+09:00')")"
check "availability across the first leader's start: counted from it" "60|0|100" \
  "$(yd_sql "SELECT round(total_minutes)::text || '|' || round(down_minutes)::text || '|' || round(percent)::text
             FROM yoban.yoban_availability('2026-10-31 21:00+09:00', '2026-11-01 00:00+09:00')")"
yb incidents --month 2026-13 >/dev/null 2>&1; check "a bad month is a usage error" 2 "$?"

# ---- yoban notify test ----
out=$(yb notify test hook 2>&1); check "notify test through the webhook" 0 "$?"
contains "it reports the receiver's answer" "HTTP 200" "$out"
out=$(yb notify test mail 2>&1); check "notify test through smtp" 0 "$?"
contains "it reports the SMTP server's answer" "250" "$out"
check "the test mail arrived" 1 "$(grep -l 'X-Yoban-Event: test' "$work/maildir/new"/* | wc -l)"
out=$(yb notify test dead 2>&1); check "notify test through a dead channel fails" 1 "$?"
contains "and says why" "did not go through" "$out"
out=$(yb notify test nosuch 2>&1); check "notify test of an unknown channel" 1 "$?"

# ---- yoban-notify's own surface ----
contains "yoban-notify --help" "usage: yoban-notify" "$("$YB_BIN/yoban-notify" --help)"
check "an unknown option is a usage error" 2 "$(status_of "$YB_BIN/yoban-notify" --bogus)"
check "a missing config is a usage error" 2 "$(status_of env YOBAN_CONFIG=/nonexistent/yoban.yaml "$YB_BIN/yoban-notify" --once)"
check "--once delivers what is due and exits 0" 0 "$(status_of env PGUSER=yoband "$YB_BIN/yoban-notify" --once)"

check_status "no sanitizer report from yoban-notify" 1 grep -q 'ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:' "$PG_BASE/notify.log"
[ "$ASSERT_FAILED" -eq 0 ] || { echo "# --- notify.log"; tail -40 "$PG_BASE/notify.log" | sed 's/^/#   /'; }
finish
