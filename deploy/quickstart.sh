#!/usr/bin/env bash
# Yoban quickstart: from a fresh Debian 12 machine to a night's run, in one command. It installs
# what is missing, builds, validates the example runbooks, shows each runbook's plan and next fire
# times after the city calendar, then creates a private PostgreSQL (yoban init), starts yoband
# with the local runner, lets it fire the nightly batch, and shows the run with yoban runs, logs
# and show. The state is kept in /var/tmp/yoban-quickstart-$USER (or $YOBAN_QUICKSTART_DIR).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "installing build and runtime packages (only what is missing)"
./deploy/install-deps.sh

step "building (cmake -S . -B build && cmake --build build)"
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
yoban=build/bin/yoban
export YOBAN_CONFIG="$here/runbooks/yoban.yaml"

step "validating every example in runbooks/"
"$yoban" validate runbooks/

mapfile -t books < <(grep -l '^kind:' runbooks/*.yaml | sort)
for rb in "${books[@]}"; do
  step "plan: $rb"
  "$yoban" plan "$rb"
done

step "next fire times (after the calendar), from now"
for rb in "${books[@]}"; do
  if grep -q '^schedule:' "$rb"; then
    printf '%s\n' "$(basename "$rb" .yaml):"
    "$yoban" next "$rb" --count 3 | sed 's/^/  /'
  fi
done

step "cron as crontabs write it (croniter's syntax): weekday mornings from November to March"
"$yoban" next --cron '30 8 * Nov-Mar mon-fri' --tz Asia/Tokyo --count 3
step "every 30 minutes through the end of summer time in New York (both passes of the repeated hour)"
"$yoban" next --cron '*/30 * * * *' --tz America/New_York --from 2026-11-01T00:45:00-04:00 --count 5

step "the city calendar's closed days in the coming weeks"
today=$(date +%F)
"$yoban" calendar holidays --year "$(date +%Y)" --calendar city | awk -v t="$today" '$1 >= t' | head -12

# ---- the night itself: yoband on the embedded PostgreSQL, firing the nightly batch ----------
# The state lives outside the source tree, in a folder the embedded server's user can reach
# (run as root, PostgreSQL runs as the system user 'yoban').
state=${YOBAN_QUICKSTART_DIR:-/var/tmp/yoban-quickstart-$(id -un)}
conf=$state/yoban.yaml
ydpid=
stop_daemon() {
  if [ -n "$ydpid" ]; then kill "$ydpid" 2>/dev/null; wait "$ydpid" 2>/dev/null || true; ydpid=; fi
}
trap stop_daemon EXIT

step "a private PostgreSQL for Yoban (yoban init --state-dir $state)"
mkdir -p "$state/runbooks"
chmod 755 "$state"
cat > "$state/inventory.yaml" <<'YAML'
hosts:
  local: { transport: local, environment: production }
YAML
echo "  local-stg: { transport: local, environment: staging, state_dir: \"$state/runner-stg\" }" >> "$state/inventory.yaml"
mkdir -p "$state/calendars"
cp runbooks/calendars/city.yaml "$state/calendars/city.yaml"
"$yoban" init --state-dir "$state" --runbooks "$state/runbooks" --inventory "$state/inventory.yaml"
# A state folder from an earlier run of an older build: start its database (a `yoban db stop`
# holds it stopped until then) and bring its schema up to this build, as an upgrade would.
"$yoban" db start --config "$conf" >/dev/null 2>&1 || true
"$yoban" db migrate --config "$conf"
grep -q '^calendars:' "$conf" || echo "calendars: \"$state/calendars\"" >> "$conf"

# The nightly batch, scheduled a few seconds from now (six fields, seconds last, in Tokyo time).
fire_at=$(( $(date +%s) + 15 ))
cron=$(TZ=Asia/Tokyo date -d "@$fire_at" '+%-M %-H %-d %-m * %-S')
fire_iso=$(TZ=Asia/Tokyo date -d "@$fire_at" '+%Y-%m-%dT%H:%M:%S+09:00')
rm -f "$state"/runbooks/demo-*.yaml   # the demos below, from an earlier run, are written anew
sed "s/@CRON@/$cron/" deploy/demo/nightly-resident-batch.yaml > "$state/runbooks/nightly-resident-batch.yaml"
"$yoban" validate --config "$conf" "$state/runbooks"

step "starting yoband (log: $state/yoband.log); the nightly batch fires at $fire_iso"
build/bin/yoband --config "$conf" >> "$state/yoband.log" 2>&1 &
ydpid=$!
run_id=
for _ in $(seq 1 120); do
  sleep 1
  kill -0 "$ydpid" 2>/dev/null || { tail -20 "$state/yoband.log"; echo "yoband stopped (see above)" >&2; exit 1; }
  line=$("$yoban" runs --config "$conf" --runbook nightly-resident-batch --format json 2>/dev/null |
         /usr/bin/python3 -c '
import json, sys
want = sys.argv[1]
for r in json.load(sys.stdin):
    if r.get("scheduled_for", "").startswith(want[:19]) and r.get("state") not in ("pending", "queued", "running", "cancelling"):
        print(r["id"], r["state"]); break' "$fire_iso" || true)
  if [ -n "$line" ]; then run_id=${line%% *}; break; fi
done
[ -n "$run_id" ] || { tail -20 "$state/yoband.log"; echo "the nightly batch did not finish within 2 minutes (log above)" >&2; exit 1; }

step "yoban runs"
"$yoban" runs --config "$conf" --limit 5

step "yoban logs $run_id"
"$yoban" logs --config "$conf" "$run_id"

step "yoban show $run_id"
"$yoban" show --config "$conf" "$run_id"

step "an operator's run: yoban trigger with a parameter, named as the runbook writes it"
"$yoban" trigger nightly-resident-batch --config "$conf" --param business_date="$(date +%F)" --wait --timeout 60s

# ---- a data patch: requested, refused to its requester, approved by another login, staged ------
step "a data patch needs someone else's approval and a staging pass (docs/approvals.md)"
mkdir -p "$state/runbooks/procedures"
sed "s|@STATE@|$state|" deploy/demo/patch-demo.yaml > "$state/runbooks/patch-demo.yaml"
cp deploy/demo/procedures/patch-demo.md "$state/runbooks/procedures/"
"$yoban" reload --config "$conf" --wait --timeout 60s
# The approver's side: the second login 'suzuki' (yoban_approver). You get yoban_approver too, to
# show that even an approver cannot approve their own request. On the embedded cluster only your
# OS user logs in as you, so suzuki's approval is given here through psql as the superuser taking
# suzuki's identity (SET SESSION AUTHORIZATION sets session_user, which the rules check).
psql=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql | tail -1)
me=$(id -un)
su_psql() { PGOPTIONS="-c client_min_messages=warning" "$psql" -X -q -At -h "$state/run" -U postgres yoban "$@"; }
# The demo resident database the patch corrects (two rows with the wrong address code).
demo_rows() {
  PGOPTIONS="-c client_min_messages=warning" "$psql" -X -q -h "$state/run" -U postgres resident_demo -c "
    DROP TABLE IF EXISTS residents;
    CREATE TABLE residents (id integer PRIMARY KEY, name text, address_code text);
    INSERT INTO residents VALUES (1, '山田 花子', '0123'), (2, '佐藤 一郎', '0999'), (3, '鈴木 次郎', '0123');"
}
PGOPTIONS="-c client_min_messages=warning" "$psql" -X -q -h "$state/run" -U postgres postgres -c "DROP DATABASE IF EXISTS resident_demo" \
  -c "CREATE DATABASE resident_demo" >/dev/null
demo_rows
su_psql -v me="$me" <<'SQL'
SELECT yoban.yoban_grant_login(:'me', ARRAY['yoban_approver']);
SELECT yoban.yoban_grant_login('suzuki', ARRAY['yoban_approver']);
SQL
echo "\$ yoban trigger patch-demo"
"$yoban" trigger patch-demo --config "$conf" || echo "(refused, as it must be)"
echo "\$ yoban request patch-demo --reason 'demo: address code 0123 -> 0132'"
patch_run=$("$yoban" request patch-demo --config "$conf" --reason "demo: address code 0123 -> 0132" | sed -n 's/^run //p')
echo "run $patch_run"
echo "\$ yoban approve $patch_run    (as $me, the requester)"
"$yoban" approve "$patch_run" --config "$conf" || echo "(refused, as it must be)"
echo "\$ psql: SET SESSION AUTHORIZATION suzuki; SELECT yoban.yoban_approve($patch_run, 'procedure checked')"
su_psql -c "SET SESSION AUTHORIZATION suzuki" -c "SELECT yoban.yoban_approve($patch_run, 'procedure checked')"
step "staging first: approved, its lead time over, the patch still waits for a staging pass"
sleep 8
"$yoban" pending --config "$conf"
"$yoban" trigger patch-demo --staging --config "$conf" --wait --timeout 60s
for _ in $(seq 1 60); do
  [ "$("$psql" -X -At -h "$state/run" -U postgres resident_demo -c "SELECT count(*) FROM residents WHERE address_code = '0123'")" = 0 ] && break
  sleep 0.5
done
# On this one machine staging and production share the demo database: put the wrong codes back,
# as if staging had been the copy it is at a city.
demo_rows
echo "staging passed: yoband starts the approved run $patch_run (it looks every 2 seconds)"
for _ in $(seq 1 60); do
  st=$("$yoban" runs --config "$conf" --runbook patch-demo --format json | /usr/bin/python3 -c '
import json, sys
print(next((r["state"] for r in json.load(sys.stdin) if r["id"] == int(sys.argv[1])), ""))' "$patch_run")
  case $st in succeeded|failed|skipped|cancelled|timed_out|lost) break;; esac
  sleep 1
done
step "yoban show $patch_run: who asked, who approved, the gates, the evidence"
"$yoban" show --config "$conf" "$patch_run"
step "yoban artifact $patch_run fix-address-code before / after: the evidence, byte for byte (CSV)"
"$yoban" artifact "$patch_run" fix-address-code before --config "$conf"
"$yoban" artifact "$patch_run" fix-address-code after --config "$conf"

# ---- three generations (3世代), a restore, an off-site copy (遠隔地退避) ---------------------
# A demo share in the state folder is backed up four nights running; a private sshd on loopback
# plays the distant vault (SFTP, its host key pinned in the inventory like any host's).
demo=$state/backup-demo
rm -rf "$demo"
mkdir -p "$demo/share/docs" "$demo/vault" "$demo/snap" "$demo/home/.ssh"
echo "住民記録 (demo)" > "$demo/share/docs/readme.txt"
head -c 200000 /dev/urandom > "$demo/share/docs/scan.bin"
export YB_BIN=$here/build/bin
. tests/integration/lib/sshd.sh
sshd_start >/dev/null
trap 'stop_daemon; sshd_stop' EXIT
echo "Subsystem sftp /usr/lib/openssh/sftp-server" >> "$SSHD_DIR/sshd_config"
kill -HUP "$SSHD_PID"; sleep 0.5
cp "$SSHD_KEY" "$demo/home/.ssh/id_ed25519"   # the file server's own key for the vault
cat >> "$state/inventory.yaml" <<YAML
  vault: { address: 127.0.0.1, port: $SSHD_PORT, user: $SSHD_USER, environment: production, host_key: "$SSHD_FINGERPRINT" }
YAML
"$yoban" offsite-restore --new-key "$demo/vault.key" >/dev/null   # kept at the vault; .pub here
cat > "$state/runbooks/demo-backup.yaml" <<YAML
version: 1
name: demo-backup
kind: backup
targets: { hosts: [local] }
steps:
  - name: share
    backup: { source: $demo/share, repository: $demo/repo, generations: 3 }
YAML
cat > "$state/runbooks/demo-offsite.yaml" <<YAML
version: 1
name: demo-offsite
kind: offsite-copy
targets: { hosts: [local] }
steps:
  - name: vault
    offsite:
      repository: $demo/repo
      destination: { host: vault, path: $demo/vault }
      key_file: $demo/vault.key.pub
      keep: 12
    env: { HOME: $demo/home }
YAML
"$yoban" reload --config "$conf" >/dev/null
wait_run() { # RUNBOOK: trigger it and wait until its run has ended; prints its state
  local out run st=
  out=$("$yoban" trigger "$1" --config "$conf" --wait --timeout 60s)
  run=$(sed -n 's/^run \([0-9]*\).*/\1/p' <<<"$out")
  for _ in $(seq 600); do
    st=$("$yoban" show "$run" --config "$conf" --format json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
    case $st in pending|queued|running|cancelling) sleep 0.1;; *) break;; esac
  done
  echo "run $run: $st"
}
step "four nights of backups (generations: 3): the fourth prunes the first"
for night in 1 2 3 4; do
  echo "night $night" > "$demo/share/night.txt"
  cp -a "$demo/share" "$demo/snap/$night"
  printf 'night %s: %s\n' "$night" "$(wait_run demo-backup)"
done
step "yoban backups demo-backup (0 is the newest)"
"$yoban" backups demo-backup --config "$conf"
step "yoban restore demo-backup --generation 2: the second night's share, compared with it"
"$yoban" restore demo-backup --config "$conf" --generation 2 --to "$demo/restored"
diff -r "$demo/snap/2" "$demo/restored" && echo "identical to the share as it was on night 2"
step "the monthly off-site copy: encrypted before it leaves, verified at the vault"
wait_run demo-offsite
ls -l "$demo/vault"
copy=$(ls "$demo"/vault/*.yoban-offsite | head -1)
step "yoban offsite-restore: the copy, decrypted with the vault's secret key, restored"
"$yoban" offsite-restore "$copy" --key "$demo/vault.key" --to "$demo/from-vault"
diff -r "$demo/share" "$demo/from-vault" && echo "identical to the share as it is tonight"

# ---- a failure at night: a notice delivered, an incident opened, acknowledged, resolved ------
# The site's on-duty channel here is a command that appends each notice to a file (in a city it
# calls the phone tool or sends mail); yoban-notify delivers beside yoband, in its own process.
grep -q '^notify:' "$conf" || cat >> "$conf" <<YAML
notify:
  channels:
    on-duty: { command: [/bin/sh, -c, "cat >> $state/notices.jsonl; echo >> $state/notices.jsonl"], timeout: 10s }
  default: [on-duty]
contract:
  sla: { report: 30m, start: 2h, recover: 6h, availability: 99.9 }
  caps: { service: { per_month: 3, total: 48 }, modification: { per_month: 1, total: 12 } }
YAML
cat > "$state/runbooks/demo-failing.yaml" <<'YAML'
version: 1
name: demo-failing
title: 住民税 夜間集計 (fails on purpose)
kind: batch
targets: { hosts: [local] }
steps:
  - name: aggregate
    run: "echo aggregating; echo 'ERROR: table zei.kazei is locked' >&2; exit 3"
YAML
"$yoban" reload --config "$conf" >/dev/null
rm -f "$state/notices.jsonl"
build/bin/yoban-notify --config "$conf" >> "$state/yoban-notify.log" 2>&1 &
ntpid=$!
trap 'stop_daemon; kill "$ntpid" 2>/dev/null || true; sshd_stop' EXIT
step "a step fails on purpose at night"
wait_run demo-failing || true
for _ in $(seq 300); do [ -s "$state/notices.jsonl" ] && break; sleep 0.1; done
step "the notice the on-duty channel received (the command got it as JSON on stdin)"
head -1 "$state/notices.jsonl" | /usr/bin/python3 -c 'import json,sys; n=json.loads(sys.stdin.readline()); print(n["subject"]); print(); print(n["text"])'
step "yoban notifications (every delivery and attempt)"
"$yoban" notifications --config "$conf"
inc=$("$yoban" incidents --config "$conf" --open --format json | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); l=d["incidents"] if isinstance(d, dict) else d; print(l[0]["id"])')
step "yoban incidents --open: the incident and its SLA clocks"
"$yoban" incidents --config "$conf" --open
step "yoban incident ack $inc, then resolve it with its cause and fixes"
"$yoban" incident ack "$inc" --config "$conf" --comment "on-duty engineer looking at the lock"
"$yoban" incident resolve "$inc" --config "$conf" --cause "a manual query held a lock on zei.kazei" \
  --temporary-fix "the query was cancelled and the batch rerun" \
  --permanent-fix "lock_timeout for manual sessions on the tax database"
"$yoban" incident show "$inc" --config "$conf"

# ---- effort hours (工数) against the contract's caps (docs/effort.md) ------------------------
step "the recovery's hours logged against the incident; runs of runbooks with effort: log their own"
"$yoban" effort log --config "$conf" --hours 1.5 --category incident --incident "$inc" \
  --note "lock found, query cancelled, batch rerun"
step "yoban effort list: this month's entries (the data patch's runs logged theirs, staging too)"
"$yoban" effort list --config "$conf"
step "yoban effort summary: hours, person-days, person-months against the monthly and total caps"
"$yoban" effort summary --config "$conf"

# ---- the evidence chain and a signed checkpoint of its head (docs/evidence.md) -------------
step "yoban verify: the evidence chain (every request, transition, job end, approval, incident) is sound"
"$yoban" verify --config "$conf"
step "yoban checkpoint: sign the chain's head (the key belongs off the database host: docs/evidence.md)"
[ -f "$state/checkpoint.key" ] || "$yoban" checkpoint keygen -o "$state/checkpoint.key"
"$yoban" checkpoint -o "$state/checkpoint.json" --key "$state/checkpoint.key" --config "$conf"
"$yoban" verify --checkpoint "$state/checkpoint.json" --public-key "$state/checkpoint.key.pub" --config "$conf"
step "yoban evidence export $patch_run: the data patch's evidence in one file (manifest, run.json, chain entries, outputs, before/after CSV)"
"$yoban" evidence export "$patch_run" -o "$state/evidence-$patch_run.tar.zst" --force --config "$conf"
step "yoban evidence verify: what an auditor runs, offline (no database, no site config)"
env -u YOBAN_CONFIG "$yoban" evidence verify "$state/evidence-$patch_run.tar.zst"
kill "$ntpid" 2>/dev/null; wait "$ntpid" 2>/dev/null || true

# ---- the monthly report (月次報告書, docs/report.md) ----------------------------------------------
# This month, in the site's zone (Asia/Tokyo): the demo's runs, the patch and its approvals, the
# backups and the off-site copy, the incident against the SLA, the effort against the caps, and
# the evidence chain's head with the checkpoint just signed.
report_month=$(TZ=Asia/Tokyo date +%Y-%m)
report_file=$state/report-$report_month.html
step "yoban report monthly $report_month: the month's report for reviewers (HTML, A4)"
"$yoban" report monthly "$report_month" --config "$conf" -o "$report_file"
"$yoban" report monthly "$report_month" --config "$conf" --format json | /usr/bin/python3 -c '
import json, sys
g = json.load(sys.stdin)
s, a = g["schedule"], g["availability"]
print("runs %d (%s), on time %s %%, incidents %d (SLA passed %d), data patches %d, backup days %d"
      % (g["runs"]["total"], ", ".join("%s %d" % (k, v) for k, v in g["runs"]["by_state"].items() if v),
         "-" if s["on_time_percent"] is None else "%.1f" % s["on_time_percent"],
         len(g["incidents"]["list"]), g["incidents"]["passed"], len(g["data_patches"]), len(g["backups"])))
print("effort %s; chain head %s, checkpoint %s"
      % (", ".join("%s %.2f h" % (c["category"], c["hours"]) for c in g["effort"]["categories"]),
         (g["chain"]["head"] or {}).get("seq", "not recorded"),
         (g["chain"]["checkpoint"] or {}).get("seq", "not recorded")))'
echo "written: $report_file"

stop_daemon
"$yoban" db stop --config "$conf" >/dev/null

cat <<EOT

Done: the nightly batch ran under yoband and its evidence is in PostgreSQL.
The month's report (月次報告書): $report_file
Next:
  build/bin/yoban --help                  every command
  build/bin/yoban validate PATH...        check your own runbooks
  ./tests/run.sh                          run every test
  export YOBAN_CONFIG=$conf
  build/bin/yoban db start                the database again (yoban db stop holds it stopped)
  build/bin/yoband                        the daemon again
  build/bin/yoban trigger nightly-resident-batch --wait
  build/bin/yoban runs                    what ran
  build/bin/yoban report monthly $report_month --lang en -o report.html   the report in English
EOT
