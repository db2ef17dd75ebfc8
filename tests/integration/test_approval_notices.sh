#!/usr/bin/env bash
# Approval events reach people (issue: notices for "approval needed / approved / rejected"): a
# request that needs approval, a request fully approved and a rejection each put one event in the
# outbox in the same transaction (schemas/sql/011_approval_notices.sql), and yoban-notify delivers
# them to the runbook's channels when its notify.on has `approval`. A runbook that does not ask
# for approval notices gets none. A voided request is the gate's business, not a notice.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/assert.sh"
. "$here/lib/pg.sh"
. "$here/lib/daemon.sh"

yd_setup || bail "yd_setup"
pg_create_login bob yoban_approver || bail "login bob"
work=$PG_BASE/work
mkdir -p "$work" "$YD_SITE/runbooks/procedures"
cat >"$work/pager.sh" <<EOF
#!/bin/sh
cat >>"$work/notices.jsonl"; echo >>"$work/notices.jsonl"
EOF
chmod 755 "$work/pager.sh"
cat >>"$YD_SITE/yoban.yaml" <<YAML
notify:
  channels:
    pager: { command: [$work/pager.sh], timeout: 10s }
YAML
printf '# 作業手順書\n1. check the rows\n' >"$YD_SITE/runbooks/procedures/fix.md"
for rb in fix quiet; do
  on=approval; [ "$rb" = quiet ] && on=failure
  cat >"$YD_SITE/runbooks/$rb.yaml" <<YAML
version: 1
name: $rb
kind: batch
approval: { approvers: 1, lead_time: 1h, procedure: procedures/fix.md }
notify: { on: [$on], channels: [pager] }
targets: { hosts: [local] }
steps:
  - name: patch
    run: echo patched
YAML
done

yd_start
yd_wait_sql "SELECT count(DISTINCT runbook) FROM yoban.runbook_revisions WHERE runbook IN ('fix', 'quiet')" 2 30 \
  || bail "yoband loaded the runbooks"
request() { PGUSER=alice yd_sql "SELECT yoban.yoban_request('$1', '{}', NULL, '$2')"; }
r1=$(request fix "address code 0123")
r2=$(request fix "a second patch")
r3=$(request quiet "no approval notices asked for")
PGUSER=bob yd_sql "SELECT yoban.yoban_approve($r1, 'procedure checked')" >/dev/null
PGUSER=bob yd_sql "SELECT yoban.yoban_reject($r2, 'wrong rows')" >/dev/null
check "the outbox: needed twice, approved, rejected for 'fix'" "approval_needed approval_needed approved rejected" \
  "$(yd_sql "SELECT string_agg(event::text, ' ' ORDER BY event::text) FROM yoban.notify_events WHERE runbook = 'fix'")"
check "each event names its run" "$r1 $r1 $r2 $r2" \
  "$(yd_sql "SELECT string_agg(run_id::text, ' ' ORDER BY run_id, event::text) FROM yoban.notify_events WHERE runbook = 'fix'")"

PGUSER=yoband "$YB_BIN/yoban-notify" --once >"$PG_BASE/notify.log" 2>&1
check "yoban-notify --once delivers them" 0 "$?"
events=$(/usr/bin/python3 -c '
import json, sys
for line in open(sys.argv[1]):
    if line.strip():
        n = json.loads(line); print(n["event"], n["runbook"], n["run_id"])' "$work/notices.jsonl" | sort)
check "the pager got approval needed (twice), approved and rejected, and nothing for 'quiet'" \
  "$(printf 'approval_needed fix %s\napproval_needed fix %s\napproved fix %s\nrejected fix %s' "$r1" "$r2" "$r1" "$r2" | sort)" \
  "$events"
check "'quiet' (notify.on: failure) made events but no delivery" 0 \
  "$(yd_sql "SELECT count(*) FROM yoban.notifications n JOIN yoban.notify_events e ON e.id = n.event_id WHERE e.runbook = 'quiet'")"
contains "the notice says who must act (subject)" "承認待ち" "$(cat "$work/notices.jsonl")"
check "nobody writes the outbox directly" 1 \
  "$(PGUSER=alice yd_sql "INSERT INTO yoban.notify_events (event, runbook) VALUES ('approved', 'fix')" >/dev/null 2>&1; echo $?)"
check_status "no sanitizer report from yoban-notify" 1 grep -q 'ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:' "$PG_BASE/notify.log"
finish
